"""CONTRACT DOUBLE of the OpenSearch Dashboards HTTP APIs the osd_* modules use -- not OpenSearch Dashboards.

OpenSearch Dashboards cannot be obtained on the machines this project is tested on (no
container registry; not published to PyPI, npm, Maven, the Go proxy, crates or Debian),
so the osd_* modules are tested against this small in-process HTTP server, written from
the public documentation and, where the documentation is silent, from the OpenSearch
Dashboards source (opensearch-project/OpenSearch-Dashboards):

* Workspaces, ``/api/workspaces`` -- docs page "Workspaces APIs"
  (https://docs.opensearch.org/latest/dashboards/workspace/apis/): ``POST _list`` with
  ``page``/``perPage`` and the ``{"success", "result": {"page", "per_page", "total",
  "workspaces"}}`` answer; ``GET <id>``; ``POST`` create answering ``{"result": {"id"}}``;
  ``PUT <id>`` and ``DELETE <id>`` answering ``{"result": true}``. From the source
  (src/plugins/workspace/server/routes/index.ts and workspace_client.ts): failures are
  HTTP 200 with ``{"success": false, "error": "<message>"}`` (not-found as ``Saved object
  [workspace/<id>] not found``, duplicate names as ``workspace name has already been used,
  try with a different name``), ids are 6 random characters, ``features`` must hold exactly
  one ``use-case-*`` id, unknown attribute keys are rejected with HTTP 400 by the request
  schema, and an update stores the given attributes as a whole. Data model and use-case ids:
  "Workspace for OpenSearch Dashboards" (https://docs.opensearch.org/latest/dashboards/workspace/).
* Saved objects, ``/api/saved_objects`` -- docs page "Saved Objects APIs"
  (https://docs.opensearch.org/latest/dashboards/management/saved-objects-api/): ``_find``
  (``type``, ``per_page``, ``page``), ``GET <type>/<id>``, ``_bulk_get``, ``DELETE
  <type>/<id>`` answering ``{}``, ``_import`` (multipart ``file`` field, ``.ndjson``
  extension only, ``overwrite``, ``createNewCopies`` exclusive with it, answer ``success``
  / ``successCount`` / ``successResults`` / ``errors`` with ``missing_references``,
  ``conflict`` and ``unsupported_type``, HTTP 200 even when objects fail), and the fields the
  server adds (``updated_at``, ``version``, ``migrationVersion``, ``namespaces``).
* Workspace-scoped URLs ``/w/<workspace_id>/api/...`` and the ``workspaces`` field of saved
  objects -- the "Workspace for OpenSearch Dashboards" page and the source
  (WORKSPACE_PATH_PREFIX = '/w'; workspace_id_consumer_wrapper.ts: a scoped call naming a
  workspace that does not exist fails with HTTP 400 ``Exist invalid workspaces``).
* ``osd-xsrf`` -- "Saved Objects APIs", "Workspaces APIs" and the troubleshooting page: a
  POST/PUT/DELETE without the header is answered 400 ``Request must contain a osd-xsrf
  header.``; a ``kbn-xsrf`` header does not count.
* ``GET /api/status`` with ``status.overall.state`` -- the status route of the source
  (src/core/server/status, legacy format).
* HTTP basic auth of the security plugin: 401 with ``WWW-Authenticate``.

This double's own choices (not documented anywhere): the exact 401/400 message texts other
than the xsrf one; that saved objects are stored once per (type, id) and that a call outside
any workspace sees only objects without workspaces while a scoped call sees only the
workspace's objects (objects of other workspaces answer 404); the ``migrationVersion`` value
(``7.10.0``) and the ``version`` token format; that a line of an uploaded file that does not
parse fails the whole import with 400; that deleting a workspace leaves its saved objects.
It counts every request, and ``writes()`` lists the ones that change state (the POST-based
reads ``_list`` and ``_bulk_get`` are not writes), so tests can prove a run wrote nothing.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import string
import threading
import time
import urllib.parse
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USE_CASES = (
    "use-case-observability",
    "use-case-security-analytics",
    "use-case-search",
    "use-case-essentials",
    "use-case-all",
)
WORKSPACE_ATTRIBUTES = {"name", "description", "features", "color", "icon", "defaultVISTheme", "reserved"}
# Types the core and bundled plugins register (double's choice of the subset).
KNOWN_TYPES = {
    "config",
    "index-pattern",
    "visualization",
    "dashboard",
    "search",
    "url",
    "query",
    "augment-vis",
    "visualization-visbuilder",
    "data-source",
}
ICONS = {"index-pattern": "indexPatternApp", "visualization": "visualizeApp", "dashboard": "dashboardApp"}
READ_POSTS = ("/api/workspaces/_list", "/api/saved_objects/_bulk_get")
COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def osd_error(status: int, message: str) -> tuple[int, dict]:
    """OpenSearch Dashboards' (hapi/Boom) error body."""
    names = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict", 415: "Unsupported Media Type"}
    return status, {"statusCode": status, "error": names.get(status, "Error"), "message": message}


def not_found(otype: str, oid: str) -> str:
    return f"Saved object [{otype}/{oid}] not found"


class OsdDouble:
    """State of the double; start() serves it on 127.0.0.1 and returns the base URL."""

    def __init__(self, user: str | None = None, password: str | None = None, workspaces_enabled: bool = True):
        self.user = user
        self.password = password
        # workspace.enabled: false (the default of OpenSearch Dashboards) registers no workspace routes.
        self.workspaces_enabled = workspaces_enabled
        self.lock = threading.Lock()
        self.workspaces: dict[str, dict] = {}
        self.objects: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str]] = []
        # One entry per accepted _import call: the "type/id" of every object in the uploaded file.
        self.imports: list[list[str]] = []
        self.seq = 0
        self.server: ThreadingHTTPServer | None = None

    # -- bookkeeping used by tests -------------------------------------------------
    def writes(self) -> list[tuple[str, str]]:
        out = []
        for method, target in self.requests:
            path = urllib.parse.urlsplit(target).path
            if method in ("GET", "HEAD") or (method == "POST" and path.endswith(READ_POSTS)):
                continue
            out.append((method, target))
        return out

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.imports.clear()

    def stored(self, otype: str, oid: str) -> dict | None:
        return copy.deepcopy(self.objects.get((otype, oid)))

    def workspace_by_name(self, name: str) -> dict | None:
        for ws in self.workspaces.values():
            if ws["attributes"]["name"] == name:
                return ws
        return None

    def start(self) -> str:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = double.handle(self.command, self.path, raw, self.headers)
                data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if body is not None and not isinstance(body, bytes):
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # -- dispatch --------------------------------------------------------------------
    def handle(self, method: str, target: str, raw: bytes, headers) -> tuple[int, object, dict]:
        parsed = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(parsed.query)
        parts = [urllib.parse.unquote(p) for p in parsed.path.split("/") if p]
        with self.lock:
            self.requests.append((method, target))
            if self.user is not None and not self._authorised(headers.get("Authorization")):
                status, body = osd_error(401, "Authentication required")
                return status, body, {"WWW-Authenticate": 'Basic realm="Authorization Required"'}
            if method not in ("GET", "HEAD") and headers.get("osd-xsrf") is None:
                return (*osd_error(400, "Request must contain a osd-xsrf header."), {})
            scope = None
            if parts[:1] == ["w"] and len(parts) >= 2:
                scope, parts = parts[1], parts[2:]
            if not self.workspaces_enabled and (scope is not None or parts[:2] == ["api", "workspaces"]):
                status, out = osd_error(404, "Not Found")
            elif parts[:2] == ["api", "workspaces"] and scope is None:
                status, out = self.workspaces_api(method, parts[2:], raw)
            elif parts[:2] == ["api", "saved_objects"]:
                if scope is not None and scope not in self.workspaces:
                    status, out = osd_error(400, "Exist invalid workspaces")
                else:
                    status, out = self.saved_objects_api(method, parts[2:], query, raw, headers, scope)
            elif parts == ["api", "status"] and method == "GET":
                status, out = 200, self.status_body()
            else:
                status, out = osd_error(404, "Not Found")
            return status, out, {}

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.user and password == self.password

    @staticmethod
    def status_body() -> dict:
        return {
            "name": "osd-double",
            "uuid": "00000000-0000-4000-8000-000000000000",
            "version": {"number": "2.19.0", "build_hash": "double", "build_number": 0, "build_snapshot": False},
            "status": {
                "overall": {"state": "green", "title": "Green", "nickname": "Looking good", "icon": "success"},
                "statuses": [],
            },
        }

    def _next_version(self) -> str:
        self.seq += 1
        return base64.b64encode(json.dumps([self.seq, 1]).encode()).decode()

    # -- workspaces -----------------------------------------------------------------
    def _ws_view(self, ws: dict) -> dict:
        return {**copy.deepcopy(ws["attributes"]), "permissions": {}, "id": ws["id"], "lastUpdatedTime": ws["updated"]}

    def _validate_ws(self, attrs, create: bool) -> tuple[int, dict] | None:
        if not isinstance(attrs, dict):
            return osd_error(400, "[request body.attributes]: expected a plain object value")
        for key in attrs:
            if key not in WORKSPACE_ATTRIBUTES:
                return osd_error(400, f"[request body.attributes.{key}]: definition for this key is missing")
        if create or "name" in attrs:
            name = attrs.get("name")
            if not isinstance(name, str) or not name.strip():
                return osd_error(400, "[request body.attributes.name]: can't be empty or blank.")
        if create or "features" in attrs:
            features = attrs.get("features")
            if not isinstance(features, list) or not features:
                return osd_error(
                    400, "[request body.attributes.features]: array size is [0], but cannot be smaller than [1]"
                )
            count = len([f for f in features if f in USE_CASES])
            if count == 0:
                return osd_error(
                    400,
                    "[request body.attributes.features]: At least one use case is required. Valid options: "
                    + ", ".join(USE_CASES),
                )
            if count > 1:
                return osd_error(400, "[request body.attributes.features]: Only one use case is allowed per workspace.")
        if attrs.get("color") is not None and not COLOR.match(str(attrs["color"])):
            return osd_error(400, "[request body.attributes.color]: invalid workspace color format")
        return None

    def _name_taken(self, name: str, other_than: str | None = None) -> bool:
        return any(ws["attributes"]["name"] == name and ws["id"] != other_than for ws in self.workspaces.values())

    def workspaces_api(self, method: str, rest: list[str], raw: bytes) -> tuple[int, dict]:
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return osd_error(400, "Invalid request payload JSON format")
        if method == "POST" and rest == ["_list"]:
            page = int(body.get("page") or 1)
            per_page = int(body.get("perPage") or 20)
            items = sorted(self.workspaces.values(), key=lambda w: w["created"])
            chunk = items[(page - 1) * per_page : page * per_page]
            return 200, {
                "success": True,
                "result": {
                    "page": page,
                    "per_page": per_page,
                    "total": len(items),
                    "workspaces": [{**self._ws_view(w), "permissionMode": "write"} for w in chunk],
                },
            }
        if method == "POST" and not rest:
            bad = self._validate_ws(body.get("attributes"), create=True)
            if bad:
                return bad
            attrs = body["attributes"]
            if self._name_taken(attrs["name"]):
                return 200, {
                    "success": False,
                    "error": "workspace name has already been used, try with a different name",
                }
            wid = "".join(random.choices(string.ascii_letters + string.digits, k=6))
            now = _now()
            self.workspaces[wid] = {
                "id": wid,
                "attributes": copy.deepcopy(attrs),
                "created": time.monotonic(),
                "updated": now,
            }
            return 200, {"success": True, "result": {"id": wid}}
        if len(rest) != 1:
            return osd_error(404, "Not Found")
        wid = rest[0]
        ws = self.workspaces.get(wid)
        if method == "GET":
            if ws is None:
                return 200, {"success": False, "error": not_found("workspace", wid)}
            return 200, {"success": True, "result": self._ws_view(ws)}
        if method == "PUT":
            bad = self._validate_ws(body.get("attributes"), create=False)
            if bad:
                return bad
            if ws is None:
                return 200, {"success": False, "error": not_found("workspace", wid)}
            attrs = body["attributes"]
            if "name" in attrs and self._name_taken(attrs["name"], other_than=wid):
                return 200, {
                    "success": False,
                    "error": "workspace name has already been used, try with a different name",
                }
            # The workspace client stores the given attributes as a whole (create with overwrite).
            ws["attributes"] = copy.deepcopy(attrs)
            ws["updated"] = _now()
            return 200, {"success": True, "result": True}
        if method == "DELETE":
            if ws is None:
                return 200, {"success": False, "error": not_found("workspace", wid)}
            del self.workspaces[wid]
            return 200, {"success": True, "result": True}
        return osd_error(404, "Not Found")

    # -- saved objects ----------------------------------------------------------------
    @staticmethod
    def _visible(obj: dict, scope: str | None) -> bool:
        spaces = obj.get("workspaces") or []
        return scope in spaces if scope is not None else not spaces

    def _get(self, otype: str, oid: str, scope: str | None) -> dict | None:
        obj = self.objects.get((otype, oid))
        if obj is None or not self._visible(obj, scope):
            return None
        return copy.deepcopy(obj)

    def _store(self, obj: dict, scope: str | None) -> dict:
        stored = {
            "type": obj["type"],
            "id": obj["id"],
            "attributes": copy.deepcopy(obj.get("attributes") or {}),
            "references": copy.deepcopy(obj.get("references") or []),
            "migrationVersion": {obj["type"]: "7.10.0"},
            "updated_at": _now(),
            "version": self._next_version(),
            "namespaces": ["default"],
        }
        if scope is not None:
            stored["workspaces"] = [scope]
        self.objects[(obj["type"], obj["id"])] = stored
        return stored

    def saved_objects_api(self, method, rest, query, raw, headers, scope) -> tuple[int, object]:
        if method == "POST" and rest == ["_import"]:
            return self._import(query, raw, headers, scope)
        if method == "POST" and rest == ["_bulk_get"]:
            try:
                wanted = json.loads(raw or b"[]")
            except ValueError:
                return osd_error(400, "Invalid request payload JSON format")
            if not isinstance(wanted, list):
                return osd_error(400, "[request body]: expected value of type [array]")
            out = []
            for item in wanted:
                found = self._get(item.get("type"), item.get("id"), scope)
                if found is None:
                    out.append(
                        {
                            "id": item.get("id"),
                            "type": item.get("type"),
                            "error": {
                                "statusCode": 404,
                                "error": "Not Found",
                                "message": not_found(item.get("type"), item.get("id")),
                            },
                        }
                    )
                else:
                    out.append(found)
            return 200, {"saved_objects": out}
        if method == "GET" and rest == ["_find"]:
            types = query.get("type") or []
            if not types:
                return osd_error(400, "[request query.type]: expected at least one defined value but got [undefined]")
            per_page = int((query.get("per_page") or ["20"])[0])
            page = int((query.get("page") or ["1"])[0])
            hits = [copy.deepcopy(o) for o in self.objects.values() if o["type"] in types and self._visible(o, scope)]
            return 200, {
                "page": page,
                "per_page": per_page,
                "total": len(hits),
                "saved_objects": hits[(page - 1) * per_page : page * per_page],
            }
        if len(rest) == 2 and method in ("GET", "DELETE"):
            otype, oid = rest
            found = self._get(otype, oid, scope)
            if found is None:
                return osd_error(404, not_found(otype, oid))
            if method == "GET":
                return 200, found
            del self.objects[(otype, oid)]
            return 200, {}
        return osd_error(404, "Not Found")

    def _import(self, query, raw, headers, scope) -> tuple[int, dict]:
        overwrite = (query.get("overwrite") or ["false"])[0] == "true"
        if overwrite and (query.get("createNewCopies") or ["false"])[0] == "true":
            return osd_error(400, "[request query]: cannot use [overwrite] with [createNewCopies]")
        ctype = headers.get("Content-Type") or ""
        if not ctype.startswith("multipart/form-data"):
            return osd_error(415, "Unsupported Media Type")
        message = BytesParser(policy=email_policy).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        upload = None
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                upload = part
        if upload is None:
            return osd_error(400, "[request body.file]: expected value of type [Stream] but got [undefined]")
        filename = upload.get_filename() or ""
        if not filename.endswith(".ndjson"):
            ext = filename[filename.rfind(".") :] if "." in filename else filename
            return osd_error(400, f"Invalid file extension {ext}")
        text = upload.get_payload(decode=True).decode("utf-8")
        objs = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                objs.append(json.loads(line))
            except ValueError as exc:
                return osd_error(400, f"Unexpected token in JSON at line {number}: {exc}")
        self.imports.append([f"{o.get('type')}/{o.get('id')}" for o in objs])
        in_file = {(o.get("type"), o.get("id")) for o in objs}
        results, errors = [], []
        for obj in objs:
            otype, oid = obj.get("type"), obj.get("id")
            title = (obj.get("attributes") or {}).get("title")
            meta = {"title": title, "icon": ICONS.get(otype, "")}
            if otype not in KNOWN_TYPES:
                errors.append(
                    {"id": oid, "type": otype, "title": title, "meta": meta, "error": {"type": "unsupported_type"}}
                )
                continue
            missing = [
                {"type": r.get("type"), "id": r.get("id")}
                for r in obj.get("references") or []
                if (r.get("type"), r.get("id")) not in in_file and self._get(r.get("type"), r.get("id"), scope) is None
            ]
            if missing:
                errors.append(
                    {
                        "id": oid,
                        "type": otype,
                        "title": title,
                        "meta": meta,
                        "error": {"type": "missing_references", "references": missing},
                    }
                )
                continue
            exists = (otype, oid) in self.objects
            if exists and not overwrite:
                errors.append({"id": oid, "type": otype, "title": title, "meta": meta, "error": {"type": "conflict"}})
                continue
            self._store(obj, scope)
            result = {"type": otype, "id": oid, "meta": meta}
            if exists:
                result["overwrite"] = True
            results.append(result)
        body = {"successCount": len(results), "success": not errors, "successResults": results}
        if errors:
            body["errors"] = errors
        return 200, body


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%03dZ" % (int(time.time() * 1000) % 1000)

"""CONTRACT DOUBLE of the Grafana HTTP API -- not Grafana.

Grafana cannot be obtained on the machines this project is tested on (no container
registry; no Grafana binary in PyPI, npm, Maven Central, the Go module proxy,
crates.io or Debian), so the grafana_* modules are tested against this small
in-process HTTP server, written from Grafana's own documentation
(grafana/grafana, docs/sources/developers/http_api/*.md, the pages published at
https://grafana.com/docs/grafana/latest/developers/http_api/):

* Folders, ``/api/folders`` -- "Folder HTTP API" (folder.md): GET by uid (404 when
  missing), POST create with optional ``uid`` and ``parentUid`` (409 when it exists),
  PUT with ``version``/``overwrite`` and the 412 ``version-mismatch`` body, DELETE
  (also removes the folder's dashboards and alert rules), POST ``/move``; the folder
  view (id, uid, title, url, version, created/updated, parentUid and parents when
  nested). The uid is at most 40 characters.
* Data sources, ``/api/datasources`` -- "Data source HTTP API" (data_source.md):
  GET/PUT/DELETE by ``uid/:uid``, GET/DELETE by ``name/:name``, POST create; create
  and update answers ``{"datasource", "id", "message", "name"}``; GET never returns
  ``secureJsonData``, only ``secureJsonFields`` (``{"field": true}``). From Grafana's
  source (pkg/api/datasources.go, pkg/services/datasources): 409 "data source with the
  same name already exists" / "... uid already exists"; a PUT ``version`` older than the
  stored one is refused with 409; read-only (file-provisioned) data sources answer 403;
  secureJsonData given on update is merged into what is stored; setting ``isDefault``
  clears it on the others.
* Dashboards -- "Dashboard HTTP API" (dashboard.md): POST ``/api/dashboards/db``
  (``dashboard``, ``folderUid``, ``overwrite``, ``message``; answer id/uid/url/status/
  version/slug; the version grows by one on every save; 412 ``version-mismatch`` when
  ``overwrite`` is false and the version sent is not the stored one; 412 ``name-exists``
  for another dashboard with the same title in the folder; no ``folderUid`` means the
  root folder), GET ``/api/dashboards/uid/:uid`` (``{"dashboard", "meta"}``, meta
  holding folderUid), DELETE by uid; 404 when missing.
* Alert rule groups -- "Alerting provisioning HTTP API" (alerting_provisioning.md) and
  its swagger definitions (pkg/services/ngalert/api/tooling/definitions/
  provisioning_alert_rules.go): GET/PUT/DELETE
  ``/api/v1/provisioning/folder/:folderUid/rule-groups/:group``; AlertRuleGroup
  ``{title, folderUid, interval (seconds), rules}``; ProvisionedAlertRule with the
  server-owned ``id``, ``uid`` (generated when empty), ``orgID``, ``updated``,
  ``provenance``; durations (``for``, ``keep_firing_for``) returned in Prometheus
  notation ("5m"); PUT replaces the group (rules left out are deleted); DELETE answers
  204. ``X-Disable-Provenance`` leaves the provenance empty so the rules stay editable
  in the UI; without it they are marked ``"provenance": "api"``.
* ``GET /api/health`` -- "Other HTTP API" (other.md): ``{"commit", "database", "version"}``,
  no authentication.
* Authentication -- "Authentication options for the HTTP API": basic auth of a user and
  ``Authorization: Bearer <service account token>``; 401 on bad credentials.

The double's own choices (Grafana's exact wording differs between versions, or the
documentation does not say): the texts and ``messageId`` of 401/403/404/400 bodies;
the 400 for a missing dashboard title or a rule group interval that is not a multiple
of the 10 s scheduler tick; a missing folder answering 404 "folder not found" to a rule
group PUT and 400 to a dashboard save; the ``version`` reported by /api/health.
It counts every request (``requests``/``writes()``) so a test can prove that a run
made no write, and records the headers of each request.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOUBLE_VERSION = "0.0.0-contract-double"
NO_DATA_STATES = ("NoData", "Alerting", "OK", "KeepLast")
EXEC_ERR_STATES = ("Error", "Alerting", "OK", "KeepLast")
SCHEDULER_TICK = 10
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(value) -> int | None:
    """Seconds of a Prometheus duration ("1m30s"); None when it does not parse."""
    if isinstance(value, int):
        return value
    match = _DURATION.match(str(value or ""))
    if not value or not match:
        return None
    mult = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1)
    return sum(int(g) * m for g, m in zip(match.groups()[:6], mult, strict=True) if g)


def format_duration(seconds: int) -> str:
    """Prometheus model.Duration notation, as Grafana returns it: 300 -> "5m"."""
    if not seconds:
        return "0s"
    out = ""
    for unit, size in _UNITS:
        if seconds >= size:
            out += "%d%s" % (seconds // size, unit)
            seconds %= size
    return out


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def gerror(code: int, message: str, message_id: str | None = None, **extra) -> tuple[int, dict]:
    # Double's choice: Grafana's errutil shape; older versions send only "message".
    body = {"message": message, **extra}
    if message_id:
        body.update(messageId=message_id, statusCode=code, traceID="")
    return code, body


class GrafanaDouble:
    """State of the double; start() serves it on 127.0.0.1 and returns the base URL."""

    def __init__(self, user: str = "admin", password: str = "admin", tokens: dict[str, str] | None = None):
        self.user = user
        self.password = password
        # Service account tokens and the role each one has.
        self.tokens = dict(tokens or {})
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.folders: dict[str, dict] = {}
        self.datasources: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}
        self.rule_groups: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.request_headers: list[dict] = []
        # Callables run after each answered request, under the lock: hook(double, method, path).
        self.hooks: list = []
        self.server: ThreadingHTTPServer | None = None

    # -- bookkeeping used by tests -----------------------------------------------------
    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] not in ("GET", "HEAD")]

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.request_headers.clear()

    def start(self) -> str:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = double.handle(self.command, self.path, raw, self.headers)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
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

    # -- dispatch ------------------------------------------------------------------------
    def handle(self, method: str, target: str, raw: bytes, headers) -> tuple[int, object]:
        answer = self._dispatch(method, target, raw, headers)
        with self.lock:
            for hook in list(self.hooks):
                hook(self, method, urllib.parse.urlsplit(target).path)
        return answer

    def _dispatch(self, method: str, target: str, raw: bytes, headers) -> tuple[int, object]:
        parsed = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        parts = [urllib.parse.unquote(p) for p in parsed.path.split("/") if p]
        with self.lock:
            self.requests.append((method, target))
            self.request_headers.append({k.lower(): v for k, v in headers.items()})
            if parts == ["api", "health"] and method == "GET":
                return 200, {"commit": "double", "database": "ok", "version": DOUBLE_VERSION}
            role = self._role(headers.get("Authorization"))
            if isinstance(role, tuple):
                return role
            if method != "GET" and role != "Admin":
                return gerror(
                    403,
                    "You'll need additional permissions to perform this action.",
                    "accesscontrol.unauthorized",
                )
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return gerror(400, "bad request data")
            provenance = "" if headers.get("X-Disable-Provenance") else "api"
            if parts[:2] == ["api", "folders"]:
                return self.folders_api(method, parts[2:], body, query)
            if parts[:2] == ["api", "datasources"]:
                return self.datasources_api(method, parts[2:], body)
            if parts[:2] == ["api", "dashboards"]:
                return self.dashboards_api(method, parts[2:], body)
            if parts[:4] == ["api", "v1", "provisioning", "folder"] and len(parts) == 7 and parts[5] == "rule-groups":
                return self.rule_group_api(method, parts[4], parts[6], body, provenance)
            return gerror(404, "Not found")

    def _role(self, header: str | None):
        if not header:
            return gerror(401, "Unauthorized", "auth.unauthorized")
        if header.startswith("Bearer "):
            role = self.tokens.get(header[7:])
            return role if role else gerror(401, "Invalid API key", "api-key.invalid")
        if header.startswith("Basic "):
            try:
                user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                user, password = None, None
            if user == self.user and password == self.password:
                return "Admin"
            return gerror(401, "Invalid username or password", "password-auth.failed")
        return gerror(401, "Unauthorized", "auth.unauthorized")

    # -- folders -------------------------------------------------------------------------
    def seed_folder(self, uid: str, title: str, parent_uid: str | None = None) -> dict:
        with self.lock:
            return self._create_folder({"uid": uid, "title": title, "parentUid": parent_uid})[1]

    def _folder_view(self, folder: dict) -> dict:
        out = {
            "id": folder["id"],
            "uid": folder["uid"],
            "title": folder["title"],
            "url": "/dashboards/f/%s/%s" % (folder["uid"], slugify(folder["title"])),
            "hasAcl": False,
            "canSave": True,
            "canEdit": True,
            "canAdmin": True,
            "canDelete": True,
            "createdBy": "admin",
            "created": folder["created"],
            "updatedBy": "admin",
            "updated": folder["updated"],
            "version": folder["version"],
        }
        if folder.get("parentUid"):
            chain, cur = [], self.folders.get(folder["parentUid"])
            while cur:
                chain.insert(0, {k: v for k, v in self._folder_view(cur).items() if k not in ("parents",)})
                cur = self.folders.get(cur.get("parentUid") or "")
            out["parentUid"] = folder["parentUid"]
            out["parents"] = chain
        return out

    def _create_folder(self, body) -> tuple[int, dict]:
        if not isinstance(body, dict) or not str(body.get("title") or "").strip():
            return gerror(400, "folder title cannot be empty", "folder.title-empty")
        uid = body.get("uid") or uuid.uuid4().hex[:14]
        if len(uid) > 40:
            return gerror(400, "uid too long, max 40 characters", "folder.uid-too-long")
        if uid in self.folders:
            return gerror(409, "a folder with the same uid already exists", "folder.uid-exists")
        parent = body.get("parentUid") or None
        if parent and parent not in self.folders:
            return gerror(404, "parent folder not found", "folder.notFound")
        stamp = now()
        folder = {
            "id": next(self.ids),
            "uid": uid,
            "title": body["title"],
            "parentUid": parent,
            "version": 1,
            "created": stamp,
            "updated": stamp,
        }
        self.folders[uid] = folder
        return 200, self._folder_view(folder)

    def _delete_folder(self, uid: str) -> None:
        for child in [f for f in self.folders.values() if f.get("parentUid") == uid]:
            self._delete_folder(child["uid"])
        for duid in [d for d, v in self.dashboards.items() if v["folderUid"] == uid]:
            del self.dashboards[duid]
        for key in [k for k in self.rule_groups if k[0] == uid]:
            del self.rule_groups[key]
        del self.folders[uid]

    def folders_api(self, method: str, rest: list[str], body, query) -> tuple[int, object]:
        if not rest:
            if method == "GET":
                parent = query.get("parentUid") or None
                return 200, [
                    {"id": f["id"], "uid": f["uid"], "title": f["title"]}
                    for f in self.folders.values()
                    if f.get("parentUid") == parent
                ]
            if method == "POST":
                return self._create_folder(body)
            return gerror(405, "Method not allowed")
        folder = self.folders.get(rest[0])
        if folder is None:
            return gerror(404, "folder not found", "folder.notFound")
        if len(rest) == 2 and rest[1] == "move" and method == "POST":
            parent = (body or {}).get("parentUid") or None
            if parent and parent not in self.folders:
                return gerror(404, "parent folder not found", "folder.notFound")
            cur = parent
            while cur:
                if cur == folder["uid"]:
                    return gerror(400, "cannot move a folder into itself or one of its subfolders", "folder.cycle")
                cur = self.folders[cur].get("parentUid")
            folder.update(parentUid=parent, updated=now(), version=folder["version"] + 1)
            return 200, self._folder_view(folder)
        if len(rest) != 1:
            return gerror(404, "Not found")
        if method == "GET":
            return 200, self._folder_view(folder)
        if method == "PUT":
            body = body or {}
            if not body.get("overwrite") and body.get("version") != folder["version"]:
                return gerror(412, "The folder has been changed by someone else", status="version-mismatch")
            if not str(body.get("title") or "").strip():
                return gerror(400, "folder title cannot be empty", "folder.title-empty")
            folder.update(title=body["title"], updated=now(), version=folder["version"] + 1)
            return 200, self._folder_view(folder)
        if method == "DELETE":
            fid = folder["id"]
            self._delete_folder(folder["uid"])
            return 200, {"message": "Folder deleted", "id": fid}
        return gerror(405, "Method not allowed")

    # -- data sources --------------------------------------------------------------------
    def raw_datasource(self, uid: str) -> dict:
        """The stored data source with its secrets (what Grafana keeps encrypted)."""
        return copy.deepcopy(self.datasources[uid])

    def _ds_view(self, ds: dict) -> dict:
        out = {k: copy.deepcopy(v) for k, v in ds.items() if k != "secureJsonData"}
        out["secureJsonFields"] = {k: True for k in ds.get("secureJsonData") or {}}
        return out

    def _ds_by_name(self, name: str) -> dict | None:
        for ds in self.datasources.values():
            if ds["name"] == name:
                return ds
        return None

    def datasources_api(self, method: str, rest: list[str], body) -> tuple[int, object]:
        if not rest:
            if method == "GET":
                return 200, [self._ds_view(d) for d in self.datasources.values()]
            if method == "POST":
                return self._create_ds(body or {})
            return gerror(405, "Method not allowed")
        if len(rest) != 2 or rest[0] not in ("uid", "name"):
            return gerror(404, "Not found")
        ds = self.datasources.get(rest[1]) if rest[0] == "uid" else self._ds_by_name(rest[1])
        if ds is None:
            return gerror(404, "Data source not found")
        if method == "GET":
            return 200, self._ds_view(ds)
        if method == "DELETE":
            if ds.get("readOnly"):
                return gerror(403, "Cannot delete read-only data source")
            del self.datasources[ds["uid"]]
            return 200, {"message": "Data source deleted", "id": ds["id"]}
        if method == "PUT" and rest[0] == "uid":
            return self._update_ds(ds, body or {})
        return gerror(405, "Method not allowed")

    def _ds_fields(self, body: dict) -> dict:
        return {
            "name": body.get("name"),
            "type": body.get("type"),
            "typeLogoUrl": "",
            "access": body.get("access") or "proxy",
            "url": body.get("url") or "",
            "user": body.get("user") or "",
            "database": body.get("database") or "",
            "basicAuth": bool(body.get("basicAuth")),
            "basicAuthUser": body.get("basicAuthUser") or "",
            "withCredentials": bool(body.get("withCredentials")),
            "isDefault": bool(body.get("isDefault")),
            "jsonData": copy.deepcopy(body.get("jsonData") or {}),
        }

    def _claim_default(self, ds: dict) -> None:
        if ds["isDefault"]:
            for other in self.datasources.values():
                if other is not ds:
                    other["isDefault"] = False

    def _create_ds(self, body: dict) -> tuple[int, object]:
        if not body.get("name"):
            return gerror(400, "bad request data: Name is required")
        if not body.get("type"):
            return gerror(400, "bad request data: Type is required")
        if self._ds_by_name(body["name"]):
            return gerror(409, "data source with the same name already exists")
        uid = body.get("uid") or uuid.uuid4().hex[:14]
        if uid in self.datasources:
            return gerror(409, "data source with the same uid already exists")
        ds = {"id": next(self.ids), "uid": uid, "orgId": 1, **self._ds_fields(body)}
        ds.update(version=1, readOnly=False, secureJsonData=dict(body.get("secureJsonData") or {}))
        self.datasources[uid] = ds
        self._claim_default(ds)
        view = self._ds_view(ds)
        return 200, {"datasource": view, "id": ds["id"], "message": "Datasource added", "name": ds["name"]}

    def _update_ds(self, ds: dict, body: dict) -> tuple[int, object]:
        if ds.get("readOnly"):
            return gerror(403, "Cannot update read-only data source")
        if not body.get("name") or not body.get("type"):
            return gerror(400, "bad request data: Name and Type are required")
        other = self._ds_by_name(body["name"])
        if other is not None and other is not ds:
            return gerror(409, "data source with the same name already exists")
        if body.get("version") is not None and int(body["version"]) < ds["version"]:
            return gerror(409, "Datasource has already been updated by someone else. Please reload and try again")
        new_uid = body.get("uid") or ds["uid"]
        if new_uid != ds["uid"] and new_uid in self.datasources:
            return gerror(409, "data source with the same uid already exists")
        secrets = dict(ds.get("secureJsonData") or {})
        secrets.update(body.get("secureJsonData") or {})
        del self.datasources[ds["uid"]]
        ds.update(self._ds_fields(body))
        ds.update(uid=new_uid, version=ds["version"] + 1, secureJsonData=secrets)
        self.datasources[new_uid] = ds
        self._claim_default(ds)
        view = self._ds_view(ds)
        return 200, {"datasource": view, "id": ds["id"], "message": "Datasource updated", "name": ds["name"]}

    # -- dashboards ----------------------------------------------------------------------
    def dashboards_api(self, method: str, rest: list[str], body) -> tuple[int, object]:
        if rest == ["db"] and method == "POST":
            return self._save_dashboard(body)
        if len(rest) != 2 or rest[0] != "uid":
            return gerror(404, "Not found")
        stored = self.dashboards.get(rest[1])
        if stored is None:
            return gerror(404, "Dashboard not found")
        if method == "GET":
            folder = self.folders.get(stored["folderUid"])
            dash = stored["dashboard"]
            meta = {
                "type": "db",
                "canSave": True,
                "canEdit": True,
                "canAdmin": True,
                "canStar": True,
                "canDelete": True,
                "slug": slugify(dash["title"]),
                "url": "/d/%s/%s" % (dash["uid"], slugify(dash["title"])),
                "expires": "0001-01-01T00:00:00Z",
                "created": stored["created"],
                "updated": stored["updated"],
                "updatedBy": "admin",
                "createdBy": "admin",
                "version": dash["version"],
                "hasAcl": False,
                "isFolder": False,
                "folderId": folder["id"] if folder else 0,
                "folderUid": stored["folderUid"],
                "folderTitle": folder["title"] if folder else "General",
                "folderUrl": self._folder_view(folder)["url"] if folder else "",
                "provisioned": False,
                "provisionedExternalId": "",
            }
            return 200, {"dashboard": copy.deepcopy(dash), "meta": meta}
        if method == "DELETE":
            del self.dashboards[rest[1]]
            title = stored["dashboard"]["title"]
            return 200, {"title": title, "message": "Dashboard %s deleted" % title, "id": stored["dashboard"]["id"]}
        return gerror(405, "Method not allowed")

    def _save_dashboard(self, body) -> tuple[int, object]:
        if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
            return gerror(400, "bad request data: dashboard is required")
        dash = copy.deepcopy(body["dashboard"])
        overwrite = bool(body.get("overwrite"))
        title = str(dash.get("title") or "").strip()
        if not title:
            return gerror(400, "Dashboard title cannot be empty", status="empty-name")
        uid = dash.get("uid") or uuid.uuid4().hex[:14]
        if len(uid) > 40:
            return gerror(400, "uid too long, max 40 characters", status="uid-too-long")
        folder_uid = body.get("folderUid") or ""
        if folder_uid and folder_uid not in self.folders:
            return gerror(400, "Folder not found", "dashboards.folder-not-found")
        existing = self.dashboards.get(uid)
        if existing is not None and not overwrite and dash.get("version") != existing["dashboard"]["version"]:
            return gerror(412, "The dashboard has been changed by someone else", status="version-mismatch")
        for other_uid, other in list(self.dashboards.items()):
            if other_uid != uid and other["folderUid"] == folder_uid and other["dashboard"]["title"] == title:
                if not overwrite:
                    return gerror(
                        412, "A dashboard with the same name in the folder already exists", status="name-exists"
                    )
                del self.dashboards[other_uid]
        stamp = now()
        dash["uid"] = uid
        dash["id"] = existing["dashboard"]["id"] if existing else next(self.ids)
        dash["version"] = existing["dashboard"]["version"] + 1 if existing else 1
        self.dashboards[uid] = {
            "dashboard": dash,
            "folderUid": folder_uid,
            "created": existing["created"] if existing else stamp,
            "updated": stamp,
            "message": body.get("message") or "",
        }
        slug = slugify(title)
        return 200, {
            "id": dash["id"],
            "uid": uid,
            "url": "/d/%s/%s" % (uid, slug),
            "status": "success",
            "version": dash["version"],
            "slug": slug,
        }

    # -- alert rule groups ---------------------------------------------------------------
    def _rule_group_view(self, folder_uid: str, title: str) -> dict:
        group = self.rule_groups[(folder_uid, title)]
        return {"title": title, "folderUid": folder_uid, "interval": group["interval"], "rules": group["rules"]}

    def _validate_rule(self, rule) -> str | None:
        if not isinstance(rule, dict):
            return "rule must be an object"
        if not str(rule.get("title") or "").strip():
            return "title is required"
        if not rule.get("record") and not rule.get("condition"):
            return "condition is required"
        if not isinstance(rule.get("data"), list) or not rule["data"]:
            return "data is required"
        if not rule.get("record"):
            if rule.get("noDataState") not in NO_DATA_STATES:
                return "noDataState must be one of %s" % ", ".join(NO_DATA_STATES)
            if rule.get("execErrState") not in EXEC_ERR_STATES:
                return "execErrState must be one of %s" % ", ".join(EXEC_ERR_STATES)
        for key in ("for", "keep_firing_for"):
            if rule.get(key) not in (None, "") and parse_duration(rule[key]) is None:
                return "%s: not a valid duration: %r" % (key, rule[key])
        return None

    def rule_group_api(self, method: str, folder_uid: str, title: str, body, provenance: str) -> tuple[int, object]:
        key = (folder_uid, title)
        if method == "GET":
            if key not in self.rule_groups:
                return gerror(404, "rule group not found", "alerting.notFound")
            return 200, self._rule_group_view(folder_uid, title)
        if method == "DELETE":
            if key not in self.rule_groups:
                return gerror(404, "rule group not found", "alerting.notFound")
            del self.rule_groups[key]
            return 204, None
        if method != "PUT":
            return gerror(405, "Method not allowed")
        if folder_uid not in self.folders:
            return gerror(404, "folder not found", "folder.notFound")
        body = body or {}
        interval = body.get("interval")
        if not isinstance(interval, int) or interval <= 0 or interval % SCHEDULER_TICK:
            return gerror(
                400,
                "invalid rule group: interval (%ss) should be non-zero and divided exactly by scheduler interval: %ss"
                % (interval, SCHEDULER_TICK),
                "alerting.invalidRuleGroup",
            )
        rules = body.get("rules") or []
        for i, rule in enumerate(rules):
            problem = self._validate_rule(rule)
            if problem:
                return gerror(400, "invalid alert rule %d: %s" % (i, problem), "alerting.invalidRule")
        old = {r["uid"]: r for r in self.rule_groups.get(key, {}).get("rules", [])}
        stored_rules = []
        stamp = now()
        for rule in rules:
            uid = rule.get("uid") or uuid.uuid4().hex[:14]
            previous = old.get(uid)
            if previous and previous.get("provenance") == "file" and provenance != "file":
                return gerror(
                    409,
                    "cannot change provenance from 'file' to '%s'" % provenance,
                    "alerting.provenanceMismatch",
                )
            out = {
                "id": previous["id"] if previous else next(self.ids),
                "uid": uid,
                "orgID": 1,
                "folderUID": folder_uid,
                "ruleGroup": title,
                "title": rule["title"],
                "condition": rule.get("condition") or "",
                "data": [self._stored_query(q) for q in rule["data"]],
                "updated": stamp,
                "noDataState": rule.get("noDataState") or "",
                "execErrState": rule.get("execErrState") or "",
                "for": format_duration(parse_duration(rule.get("for") or 0) or 0),
                "keep_firing_for": format_duration(parse_duration(rule.get("keep_firing_for") or 0) or 0),
                "isPaused": bool(rule.get("isPaused")),
                "notification_settings": copy.deepcopy(rule.get("notification_settings")),
                "record": copy.deepcopy(rule.get("record")),
            }
            # omitempty in the API's Go types: empty maps and an empty provenance are left out.
            for field in ("annotations", "labels"):
                if rule.get(field):
                    out[field] = dict(rule[field])
            if provenance:
                out["provenance"] = provenance
            stored_rules.append(out)
        self.rule_groups[key] = {"interval": interval, "rules": stored_rules}
        return 200, self._rule_group_view(folder_uid, title)

    @staticmethod
    def _stored_query(query) -> dict:
        out = copy.deepcopy(query) if isinstance(query, dict) else {}
        out.setdefault("queryType", "")
        out.setdefault("relativeTimeRange", {"from": 0, "to": 0})
        return out

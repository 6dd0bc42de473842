"""CONTRACT DOUBLE of two OpenSearch plugin REST APIs -- not the real plugins.

The ISM (index-management) and SQL plugin zips cannot be obtained on the machines
this project is tested on, so the modules that talk to them are tested against this
small in-process HTTP server, written from the plugins' public documentation:

* ISM policies, ``/_plugins/_ism/policies/<id>`` -- docs page "ISM API"
  (https://opensearch.org/docs/latest/im-plugin/ism/api/): create/update/get/delete
  request and response shapes, ``if_seq_no``/``if_primary_term`` on update; field list
  and action ``retry`` defaults (backoff exponential, delay 1m) from "Policies"
  (https://opensearch.org/docs/latest/im-plugin/ism/policies/). 409
  ``version_conflict_engine_exception`` and the 404 ``status_exception`` "Policy not
  found" follow OpenSearch's document-API conventions.
* Direct-query data sources, ``/_plugins/_query/_datasources`` -- the SQL plugin's
  "Datasource Settings" page (docs/user/ppl/admin/datasources in opensearch-project/sql)
  and "Data source APIs" (https://opensearch.org/docs/latest/sql-and-ppl/): POST create
  (201), PUT replace, PATCH merge (connector not modifiable), GET one/all, DELETE (204);
  GET never returns credentials (properties ending in auth.username / auth.password /
  auth.access_key / auth.secret_key); errors as ``{"error": {"type", "reason",
  "details"}, "status"}``; Prometheus property validation messages.

It also stands in for the security plugin's HTTP basic auth when given credentials
(401 ``Unauthorized`` with a ``WWW-Authenticate`` header), counts every request, and
can be told to answer the next requests with a given status (for retry tests).
Anything beyond the documented behaviour (exact texts of validation errors, the
schema_version number) is this double's own choice and is marked so below.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ISM_INDEX = ".opendistro-ism-config"
# Double's choice: any positive number; the docs' examples show 1 and 13.
ISM_SCHEMA_VERSION = 21
ACTION_RETRY_DEFAULT = {"count": 3, "backoff": "exponential", "delay": "1m"}
SECRET_SUFFIXES = ("auth.username", "auth.password", "auth.access_key", "auth.secret_key")
DATASOURCE_NAME = re.compile(r"^[@*A-Za-z]+?[*a-zA-Z_\-0-9]*$")


def os_error(status: int, etype: str, reason: str, **extra) -> tuple[int, dict]:
    """OpenSearch's standard error body."""
    cause = {"type": etype, "reason": reason, **extra}
    return status, {"error": {"root_cause": [cause], **cause}, "status": status}


def sql_error(status: int, etype: str, details: str) -> tuple[int, dict]:
    """The SQL plugin's error body (ErrorMessage: type, reason, details)."""
    reason = "Invalid Query" if status == 400 else "There was internal problem at backend"
    return status, {"error": {"type": etype, "reason": reason, "details": details}, "status": status}


class PluginsDouble:
    """State of the double; start() serves it on 127.0.0.1 and returns the base URL."""

    def __init__(self, user: str | None = None, password: str | None = None):
        self.user = user
        self.password = password
        self.lock = threading.Lock()
        self.policies: dict[str, dict] = {}
        self.datasources: dict[str, dict] = {}
        self.seq_no = -1
        self.requests: list[tuple[str, str]] = []
        self.fail_next: list[int] = []
        # Callables run after each answered request, under the lock: hook(double, method, path).
        self.hooks: list = []
        self.server: ThreadingHTTPServer | None = None

    # -- bookkeeping used by tests -------------------------------------------------
    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] not in ("GET", "HEAD")]

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()

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
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
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
        path = parsed.path.rstrip("/")
        query = dict(urllib.parse.parse_qsl(parsed.query))
        with self.lock:
            self.requests.append((method, target))
            if self.user is not None and not self._authorised(headers.get("Authorization")):
                # The security plugin answers a missing or wrong basic-auth header this way.
                return 401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="OpenSearch Security"'}
            if self.fail_next:
                status = self.fail_next.pop(0)
                return (*os_error(status, "double_injected_failure", f"injected HTTP {status}"), {})
            try:
                body = json.loads(raw) if raw else None
            except ValueError as exc:
                return (*os_error(400, "json_parse_exception", f"Unexpected character: {exc}"), {})
            parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
            if parts[:3] == ["_plugins", "_ism", "policies"]:
                status, out = self.ism(method, parts[3] if len(parts) > 3 else None, body, query)
            elif parts[:3] == ["_plugins", "_query", "_datasources"]:
                status, out = self.datasources_api(method, parts[3] if len(parts) > 3 else None, body)
            elif not parts and method == "GET":
                status, out = 200, {"name": "plugins-double", "tagline": "contract double, not OpenSearch"}
            else:
                status, out = os_error(400, "illegal_argument_exception", f"no handler for {method} {path}")
            for hook in list(self.hooks):
                hook(self, method, path)
            return status, out, {}

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.user and password == self.password

    # -- ISM -----------------------------------------------------------------------------
    def _stored_policy(self, pid: str, policy: dict) -> dict:
        out = copy.deepcopy(policy)
        out["policy_id"] = pid
        out["last_updated_time"] = int(time.time() * 1000)
        out["schema_version"] = ISM_SCHEMA_VERSION
        out.setdefault("error_notification", None)
        for state in out.get("states", []):
            state.setdefault("transitions", [])
            for action in state.get("actions", []):
                action.setdefault("retry", dict(ACTION_RETRY_DEFAULT))
        templates = out.get("ism_template")
        if isinstance(templates, dict):
            templates = [templates]
        if templates is not None:
            for tpl in templates:
                tpl["last_updated_time"] = out["last_updated_time"]
        out["ism_template"] = templates
        return out

    def _validate_policy(self, body) -> str | None:
        # Double's choice of wording; the plugin rejects these cases with 400 too.
        if not isinstance(body, dict) or not isinstance(body.get("policy"), dict):
            return "Required [policy]"
        policy = body["policy"]
        states = policy.get("states")
        if not isinstance(states, list) or not states:
            return "Policy must have at least one state"
        names = [s.get("name") for s in states if isinstance(s, dict)]
        if policy.get("default_state") not in names:
            return f"Policy default state [{policy.get('default_state')}] does not exist in states"
        known = {
            "rollover",
            "delete",
            "read_only",
            "read_write",
            "replica_count",
            "force_merge",
            "shrink",
            "close",
            "open",
            "notification",
            "snapshot",
            "index_priority",
            "allocation",
            "rollup",
            "transform",
        }
        for state in states:
            for action in state.get("actions", []):
                kinds = [k for k in action if k not in ("retry", "timeout", "custom")]
                for kind in kinds:
                    if kind not in known:
                        return f"Invalid field: [{kind}] found in Actions."
            for transition in state.get("transitions", []):
                if transition.get("state_name") not in names:
                    return f"Transition state [{transition.get('state_name')}] does not exist in policy states"
        return None

    def ism(self, method: str, pid: str | None, body, query: dict) -> tuple[int, dict]:
        if pid is None:
            if method == "GET":
                return 200, {
                    "policies": [self._policy_doc(p) for p in sorted(self.policies)],
                    "total_policies": len(self.policies),
                }
            return os_error(405, "method_not_allowed", f"{method} not allowed")
        current = self.policies.get(pid)
        if method == "GET":
            if current is None:
                return os_error(404, "status_exception", "Policy not found")
            return 200, self._policy_doc(pid)
        if method == "DELETE":
            self.seq_no += 1
            if current is None:
                return 404, {
                    "_index": ISM_INDEX,
                    "_id": pid,
                    "_version": 1,
                    "result": "not_found",
                    "_shards": {"total": 2, "successful": 1, "failed": 0},
                    "_seq_no": self.seq_no,
                    "_primary_term": 1,
                }
            del self.policies[pid]
            return 200, {
                "_index": ISM_INDEX,
                "_id": pid,
                "_version": current["_version"] + 1,
                "result": "deleted",
                "forced_refresh": True,
                "_shards": {"total": 2, "successful": 1, "failed": 0},
                "_seq_no": self.seq_no,
                "_primary_term": 1,
            }
        if method != "PUT":
            return os_error(405, "method_not_allowed", f"{method} not allowed")
        problem = self._validate_policy(body)
        if problem:
            return os_error(400, "illegal_argument_exception", problem)
        if_seq, if_term = query.get("if_seq_no"), query.get("if_primary_term")
        if if_seq is not None or if_term is not None:
            if current is None:
                return os_error(
                    409,
                    "version_conflict_engine_exception",
                    f"[{pid}]: version conflict, required seqNo [{if_seq}], primary term [{if_term}]. "
                    "but no document was found",
                    index=ISM_INDEX,
                )
            if str(current["_seq_no"]) != str(if_seq) or str(current["_primary_term"]) != str(if_term):
                return os_error(
                    409,
                    "version_conflict_engine_exception",
                    f"[{pid}]: version conflict, required seqNo [{if_seq}], primary term [{if_term}]. "
                    f"current document has seqNo [{current['_seq_no']}] and primary term [{current['_primary_term']}]",
                    index=ISM_INDEX,
                )
        elif current is not None:
            return os_error(
                409,
                "version_conflict_engine_exception",
                f"[{pid}]: version conflict, document already exists (current version [{current['_version']}])",
                index=ISM_INDEX,
            )
        self.seq_no += 1
        self.policies[pid] = {
            "_version": (current["_version"] + 1) if current else 1,
            "_seq_no": self.seq_no,
            "_primary_term": 1,
            "policy": self._stored_policy(pid, body["policy"]),
        }
        doc = self._policy_doc(pid)
        return (200 if current else 201), {
            "_id": pid,
            "_version": doc["_version"],
            "_primary_term": doc["_primary_term"],
            "_seq_no": doc["_seq_no"],
            "policy": {"policy": doc["policy"]},
        }

    def concurrent_policy_write(self, pid: str) -> None:
        """Another client rewrites the policy (same content, new _seq_no): for concurrency tests."""
        self.seq_no += 1
        stored = self.policies[pid]
        stored["_seq_no"] = self.seq_no
        stored["_version"] += 1
        stored["policy"]["last_updated_time"] = int(time.time() * 1000)

    def _policy_doc(self, pid: str) -> dict:
        stored = self.policies[pid]
        return {
            "_id": pid,
            "_version": stored["_version"],
            "_seq_no": stored["_seq_no"],
            "_primary_term": stored["_primary_term"],
            "policy": copy.deepcopy(stored["policy"]),
        }

    # -- SQL plugin data sources ----------------------------------------------------------
    @staticmethod
    def _public(ds: dict) -> dict:
        out = copy.deepcopy(ds)
        out["properties"] = {
            k: v for k, v in ds["properties"].items() if not any(k.endswith(s) for s in SECRET_SUFFIXES)
        }
        return out

    @staticmethod
    def _validate_datasource(body) -> str | None:
        if not isinstance(body, dict):
            return "Request body must be a JSON object"
        for field in ("name", "connector", "properties"):
            if field not in body:
                return f"{field} is required"
        if not DATASOURCE_NAME.match(str(body["name"])):
            return f"DataSource Name: {body['name']} contains illegal characters. Allowed characters: a-zA-Z0-9_-*@."
        if str(body["connector"]).upper() != "PROMETHEUS":
            return f"No enum constant for connector {body['connector']} in this double (Prometheus only)"
        props = body["properties"]
        if not isinstance(props, dict):
            return "properties must be an object"
        required = {"prometheus.uri"}
        auth = props.get("prometheus.auth.type")
        if auth == "basicauth":
            required |= {"prometheus.auth.username", "prometheus.auth.password"}
        elif auth == "awssigv4":
            required |= {"prometheus.auth.region", "prometheus.auth.access_key", "prometheus.auth.secret_key"}
        elif auth is not None:
            return f"AUTH Type : {auth} is not supported with Prometheus Connector"
        missing = sorted(required - set(props))
        if missing:
            return f"Missing [{', '.join(missing)}] fields in the Prometheus connector properties."
        host = urllib.parse.urlsplit(str(props["prometheus.uri"])).hostname
        if not host:
            return f"Invalid hostname in the uri: {props['prometheus.uri']}"
        return None

    def _record(self, body: dict) -> dict:
        status = str(body.get("status") or "ACTIVE").upper()
        return {
            "name": body["name"],
            "description": body.get("description") or "",
            "connector": str(body["connector"]).upper(),
            "allowedRoles": list(body.get("allowedRoles") or []),
            "properties": {k: str(v) for k, v in body["properties"].items()},
            # Double's choice: the plugin fills in a result index name of this form.
            "resultIndex": "query_execution_result_" + body["name"].lower(),
            "status": status,
        }

    def datasources_api(self, method: str, name: str | None, body) -> tuple[int, object]:
        if method == "GET":
            if name is None:
                return 200, [self._public(self.datasources[key]) for key in sorted(self.datasources)]
            if name not in self.datasources:
                return sql_error(404, "DataSourceNotFoundException", f"DataSource with name {name} doesn't exist.")
            return 200, self._public(self.datasources[name])
        if method == "DELETE":
            if name is None or name not in self.datasources:
                return sql_error(404, "DataSourceNotFoundException", f"DataSource with name {name} doesn't exist.")
            del self.datasources[name]
            return 204, None
        if name is not None:
            return sql_error(400, "IllegalArgumentException", f"{method} takes no data source name in the path")
        if method == "PATCH":
            if not isinstance(body, dict) or "name" not in body:
                return sql_error(400, "IllegalArgumentException", "Name is a required field.")
            if body["name"] not in self.datasources:
                return sql_error(
                    404, "DataSourceNotFoundException", f"DataSource with name {body['name']} doesn't exist."
                )
            ds = self.datasources[body["name"]]
            for key in ("description", "allowedRoles", "status"):
                if key in body:
                    ds[key] = str(body[key]).upper() if key == "status" else body[key]
            if "properties" in body:
                ds["properties"].update({k: str(v) for k, v in body["properties"].items()})
            return 200, f"Updated DataSource with name {body['name']}"
        problem = self._validate_datasource(body)
        if problem:
            return sql_error(400, "IllegalArgumentException", problem)
        if method == "POST":
            if body["name"] in self.datasources:
                return sql_error(
                    400, "IllegalArgumentException", f"A datasource already exists with name: {body['name']}"
                )
            self.datasources[body["name"]] = self._record(body)
            return 201, f"Created DataSource with name {body['name']}"
        if method == "PUT":
            if body["name"] not in self.datasources:
                return sql_error(
                    404, "DataSourceNotFoundException", f"DataSource with name {body['name']} doesn't exist."
                )
            self.datasources[body["name"]] = self._record(body)
            return 200, f"Updated DataSource with name {body['name']}"
        return sql_error(405, "IllegalArgumentException", f"{method} not allowed")

    def raw_datasource(self, name: str) -> dict:
        """What the double stores, secrets included (tests only: the API never shows them)."""
        return copy.deepcopy(self.datasources[name])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve the ISM + SQL datasource CONTRACT DOUBLE")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    double = PluginsDouble(args.user, args.password)
    print(double.start(), flush=True)
    threading.Event().wait()

"""Run a module's main() in this process, the way Ansible runs it, against a fake HTTP server.

One runner for every module test: the arguments go in through ansible-core's
patch_module_args (the same path as an args file), the module's own exit_json/fail_json
print the result (no_log masking included), and `open_url`, where the collection's HTTP
client imports it, is replaced by a FakeServer that answers from a table and logs calls.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.error import HTTPError
from urllib.parse import parse_qsl, urlsplit

from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))

PACKAGE = "ansible_collections.claude_code.observability.plugins"
OPEN_URL = PACKAGE + ".module_utils.api_client.open_url"
BASE_URL = "http://api.test:9200"
# POSTs that read (OpenSearch Dashboards lists and bulk-gets with POST).
READING_POSTS = ("_list", "_bulk_get")


@dataclass
class Call:
    """One request the module sent."""

    method: str
    path: str  # without the base URL, the leading slash and the query
    query: dict
    body: object  # decoded JSON when it is JSON, else the raw bytes
    headers: dict
    options: dict = field(default_factory=dict)  # the other open_url arguments (auth, TLS, timeout)

    @property
    def is_write(self) -> bool:
        return self.method != "GET" and not self.path.endswith(READING_POSTS)


class _Response:
    def __init__(self, status: int, raw: bytes):
        self.status, self.raw = status, raw

    def getcode(self) -> int:
        return self.status

    def read(self) -> bytes:
        return self.raw


class FakeServer:
    """A tiny HTTP API: (method, path) -> answers, and a log of every call.

    An answer is a (status, body) tuple, a body alone (status 200), or a callable taking the
    Call and returning one of those. A list of answers is given out in order, its last one
    repeating (so [missing, stored] is "missing, then stored after the write"); a JSON array
    body must therefore be written as (200, [...]). A body is sent as JSON unless it is
    bytes or str. Requests without a route answer 404.
    """

    def __init__(self, routes: dict | None = None):
        self.routes: dict = {}
        self.calls: list[Call] = []
        for (method, path), answers in (routes or {}).items():
            self.on(method, path, *(answers if isinstance(answers, list) else [answers]))

    def on(self, method: str, path: str, *answers) -> FakeServer:
        self.routes[(method.upper(), path.strip("/"))] = list(answers)
        return self

    @property
    def reads(self) -> list[Call]:
        return [c for c in self.calls if not c.is_write]

    @property
    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.is_write]

    def reset(self) -> None:
        self.calls = []

    def open_url(self, url, data=None, headers=None, method=None, **options):
        parts = urlsplit(url)
        body = data
        if data is not None:
            try:
                body = json.loads(data)
            except ValueError:
                body = data
        method = (method or "GET").upper()
        call = Call(method, parts.path.strip("/"), dict(parse_qsl(parts.query)), body, dict(headers or {}), options)
        self.calls.append(call)
        answers = self.routes.get((call.method, call.path))
        if not answers:
            answer = (404, {"error": "no route for %s %s in the fake server" % (call.method, call.path)})
        else:
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer):
            answer = answer(call)
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        if payload is None:
            raw = b""
        elif isinstance(payload, bytes):
            raw = payload
        elif isinstance(payload, str):
            raw = payload.encode("utf-8")
        else:
            raw = json.dumps(payload).encode("utf-8")
        if status >= 400:
            raise HTTPError(url, status, "HTTP %d" % status, {}, io.BytesIO(raw))
        return _Response(status, raw)


def _no_network(url, *args, **kwargs):
    raise AssertionError("the module opened %s, but the test gave it no server" % url)


# `server` given as LIVE: the module's requests go out over HTTP, to the server its url names.
LIVE = object()


def run(module: str, args: dict, server=None, check: bool = False, diff: bool = False) -> dict:
    """Run plugins/modules/<module>.py's main() with args; return its result as Ansible would get it.

    The result is the JSON the module printed, plus "rc" (0 for exit_json, 1 for fail_json)
    and "_raw" (the printed text, to prove that a secret never reaches it). A module that
    talks HTTP gets url=BASE_URL unless args name another; with server=LIVE it talks to
    the real (or double) server at the url its args give.
    """
    main = importlib.import_module("%s.modules.%s" % (PACKAGE, module)).main
    params = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    if server is not None and server is not LIVE:
        params.setdefault("url", BASE_URL)
    # Warnings and deprecations are process-wide in ansible-core: one run's must not leak into the next.
    ansible_warnings._global_warnings.clear()
    ansible_warnings._global_deprecations.clear()
    out = io.StringIO()
    code = None
    with (
        patch_module_args(params),
        # Once controller code is imported (a filter test does), module warnings would go to the
        # controller's display instead of the result: a module runs outside the controller.
        mock.patch.object(module_utils_internal, "is_controller", False),
        mock.patch(OPEN_URL, _no_network) if server is None else contextlib.nullcontext(),
        mock.patch(OPEN_URL, server.open_url) if server not in (None, LIVE) else contextlib.nullcontext(),
        contextlib.redirect_stdout(out),
    ):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
    raw = out.getvalue()
    if code is None:
        raise AssertionError("%s returned without exit_json or fail_json; printed %r" % (module, raw))
    try:
        result = json.loads(raw)
    except ValueError:
        raise AssertionError("%s printed no JSON result: %r" % (module, raw)) from None
    result["rc"] = code
    result["_raw"] = raw
    assert bool(code) == bool(result.get("failed")), result
    return result

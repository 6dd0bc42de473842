# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One HTTP JSON client for every API module of the collection.

OpenSearch, OpenSearch Dashboards and Grafana all speak JSON over HTTP with
basic auth or a bearer token; this module keeps auth, TLS, retries and error
reporting in one place so every module fails the same, readable way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl
import time

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit
from ansible.module_utils.urls import open_url

RETRY_STATUSES = frozenset((502, 503, 504))
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))
MASK = "********"


def connection_argument_spec():
    """Connection options shared by every API module (see doc fragment claude_code.observability.connection)."""
    return dict(
        url=dict(type="str", required=True),
        user=dict(type="str", aliases=["username"]),
        password=dict(type="str", no_log=True),
        token=dict(type="str", no_log=True),
        headers=dict(type="dict", default={}),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        timeout=dict(type="float", default=30.0),
        retries=dict(type="int", default=3),
    )


CONNECTION_MUTUALLY_EXCLUSIVE = [("password", "token")]
CONNECTION_REQUIRED_TOGETHER = [("user", "password")]


def quote_path(segment):
    """Quote one path segment (object names may hold characters that are special in URLs)."""
    return quote(to_native(segment), safe="")


def redact_url(url):
    """Drop user info from a URL so credentials given inline never reach a message."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def server_error_text(body):
    """The most useful human text from an error body of OpenSearch, the SQL plugin, OSD or Grafana."""
    if body is None:
        return ""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            texts = []
            reason = err.get("reason")
            etype = err.get("type")
            if reason:
                texts.append("%s: %s" % (etype, reason) if etype else to_text(reason))
            seen = set([reason])
            caused = err.get("caused_by")
            while isinstance(caused, dict) and len(texts) < 5:
                if caused.get("reason") and caused.get("reason") not in seen:
                    seen.add(caused.get("reason"))
                    texts.append("caused by %s: %s" % (caused.get("type"), caused.get("reason")))
                caused = caused.get("caused_by")
            details = err.get("details")
            if details and details != reason:
                texts.append(to_text(details))
            if texts:
                return "; ".join(texts)
        elif err:
            # Grafana/OSD put a plain string under "error" and the detail under "message".
            msg = body.get("message")
            return "%s: %s" % (err, msg) if msg and msg != err else to_text(err)
        if body.get("message"):
            return to_text(body["message"])
        return json.dumps(body, sort_keys=True)[:2000]
    return to_text(body)[:2000]


class ApiError(Exception):
    """A failed API call: names the method, the URL, the status and the server's own words."""

    def __init__(self, method, url, status=None, reason=None, body=None, hint=None):
        self.method = method
        self.url = url
        self.status = status
        self.reason = reason or ""
        self.body = body
        self.hint = hint
        super(ApiError, self).__init__(self.message)

    @property
    def message(self):
        where = "%s %s" % (self.method, self.url)
        if self.status is None:
            text = "%s failed: %s" % (where, self.reason)
        else:
            text = "%s failed with HTTP %s" % (where, self.status)
            if self.reason:
                text += ": %s" % self.reason
        if self.hint:
            text += ". %s" % self.hint
        return text

    def to_result(self):
        return dict(method=self.method, url=self.url, status=self.status, reason=self.reason, body=self.body)


def _hint(status):
    if status == 401:
        return "Authentication failed: check the user/password or token options"
    if status == 403:
        return "The credentials were accepted but lack the permission for this call"
    if status in RETRY_STATUSES:
        return "The server is unavailable or overloaded; check its health and retry"
    return None


class ApiClient:
    """JSON over HTTP(S) with bounded retries for transient failures.

    Only connection failures and 502/503/504 are retried: a 4xx is an answer,
    and repeating it would only hide the problem. POST is retried only when
    the connection was refused, so a request that may have reached the server
    is never sent twice.
    """

    def __init__(
        self,
        base_url,
        user=None,
        password=None,
        token=None,
        headers=None,
        validate_certs=True,
        ca_path=None,
        client_cert=None,
        client_key=None,
        timeout=30.0,
        retries=3,
        backoff=0.5,
        max_backoff=8.0,
        secrets=None,
        sleep=time.sleep,
    ):
        self.base_url = redact_url(to_native(base_url)).rstrip("/")
        # Credentials written into the URL are honoured, but kept out of the URL itself so that
        # they never reach a message; explicit options win.
        inline = urlsplit(to_native(base_url))
        if user is None and inline.username is not None:
            user, password = unquote(inline.username), unquote(inline.password or "")
        self.user = user
        self.password = password
        self.token = token
        self.headers = dict(headers or {})
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.secrets = [s for s in (secrets or []) if s]
        for value in (password, token):
            if value:
                self.secrets.append(value)
        self.calls = []

    @classmethod
    def from_module(cls, module, secrets=None):
        p = module.params
        return cls(
            p["url"],
            user=p.get("user"),
            password=p.get("password"),
            token=p.get("token"),
            headers=p.get("headers"),
            validate_certs=p.get("validate_certs", True),
            ca_path=p.get("ca_path"),
            client_cert=p.get("client_cert"),
            client_key=p.get("client_key"),
            timeout=p.get("timeout") or 30.0,
            retries=p.get("retries") if p.get("retries") is not None else 3,
            secrets=secrets,
        )

    def redact(self, text):
        text = to_text(text)
        for secret in self.secrets:
            text = text.replace(to_text(secret), MASK)
        return text

    def url_for(self, path, query=None):
        url = self.base_url + "/" + path.lstrip("/")
        if query:
            items = [(k, v) for k, v in sorted(query.items()) if v is not None]
            if items:
                url += "?" + urlencode(items)
        return url

    def _headers(self, has_body):
        headers = {"Accept": "application/json"}
        if has_body:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer %s" % self.token
        headers.update(self.headers)
        return headers

    def request(self, method, path, body=None, query=None, expect=(200, 201, 202, 204), raw_body=None):
        """Send one request; returns (status, decoded body). Raises ApiError for statuses not in expect."""
        method = method.upper()
        url = self.url_for(path, query)
        shown_url = redact_url(url)
        data = raw_body
        if body is not None:
            data = json.dumps(body, sort_keys=True).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            retry_reason = None
            try:
                resp = open_url(
                    url,
                    data=data,
                    headers=self._headers(data is not None),
                    method=method,
                    timeout=self.timeout,
                    validate_certs=self.validate_certs,
                    url_username=self.user,
                    url_password=self.password,
                    force_basic_auth=bool(self.user),
                    client_cert=self.client_cert,
                    client_key=self.client_key,
                    ca_path=self.ca_path,
                    follow_redirects="safe",
                    use_netrc=False,
                    use_proxy=True,
                )
                status = resp.getcode()
                raw = resp.read()
                self.calls.append((method, url, status))
                decoded = self._decode(raw)
                if status in expect:
                    return status, decoded
                raise ApiError(method, shown_url, status, self.redact(server_error_text(decoded)), decoded)
            except HTTPError as exc:
                status = exc.code
                try:
                    raw = exc.read()
                except Exception:  # the body of an error is a courtesy; its absence is no new error
                    raw = b""
                self.calls.append((method, url, status))
                decoded = self._decode(raw)
                if status in expect:
                    return status, decoded
                if status in RETRY_STATUSES and method in IDEMPOTENT_METHODS and attempt <= self.retries:
                    retry_reason = "HTTP %s" % status
                else:
                    raise ApiError(
                        method,
                        shown_url,
                        status,
                        self.redact(server_error_text(decoded) or to_text(exc.reason)),
                        decoded,
                        hint=_hint(status),
                    ) from None
            except URLError as exc:
                reason = exc.reason
                refused = isinstance(reason, ConnectionRefusedError)
                if attempt <= self.retries and (refused or method in IDEMPOTENT_METHODS) and not _is_tls_error(reason):
                    retry_reason = to_text(reason)
                else:
                    raise ApiError(
                        method,
                        shown_url,
                        None,
                        self.redact("cannot reach the server: %s" % to_text(reason)),
                        hint=_connection_hint(reason),
                    ) from None
            except (socket.timeout, TimeoutError, ConnectionError) as exc:
                refused = isinstance(exc, ConnectionRefusedError)
                if attempt <= self.retries and (refused or method in IDEMPOTENT_METHODS):
                    retry_reason = to_text(exc) or exc.__class__.__name__
                else:
                    raise ApiError(
                        method,
                        shown_url,
                        None,
                        self.redact("no answer from the server: %s" % (to_text(exc) or exc.__class__.__name__)),
                        hint="Check the url option, the network path and the timeout option (%ss)" % self.timeout,
                    ) from None
            delay = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
            self.calls.append((method, url, "retry after %s" % retry_reason))
            self._sleep(delay)

    @staticmethod
    def _decode(raw):
        if not raw:
            return None
        text = to_text(raw, errors="surrogate_or_replace")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def get(self, path, query=None, missing_ok=False):
        """GET a JSON object; with missing_ok a 404 returns None instead of raising."""
        expect = (200, 404) if missing_ok else (200,)
        status, body = self.request("GET", path, query=query, expect=expect)
        if status == 404:
            return None
        return body

    def put(self, path, body=None, query=None):
        return self.request("PUT", path, body=body, query=query)[1]

    def post(self, path, body=None, query=None):
        return self.request("POST", path, body=body, query=query)[1]

    def delete(self, path, query=None, missing_ok=True):
        expect = (200, 202, 204, 404) if missing_ok else (200, 202, 204)
        status, body = self.request("DELETE", path, query=query, expect=expect)
        return status != 404, body


def _is_tls_error(reason):
    return isinstance(reason, (ssl.SSLError, ssl.CertificateError))


def _connection_hint(reason):
    if _is_tls_error(reason):
        return (
            "TLS verification failed: set ca_path to the CA that signed the server certificate "
            "(or validate_certs=false for a throwaway test)"
        )
    if isinstance(reason, ConnectionRefusedError):
        return "Nothing listens there: check the url option and that the service is running"
    if isinstance(reason, socket.gaierror):
        return "The host name does not resolve: check the url option"
    return "Check the url option and the network path to the server"

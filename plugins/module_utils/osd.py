# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the osd_* modules share: the OpenSearch Dashboards dialect of the collection's HTTP client.

OpenSearch Dashboards differs from OpenSearch in three ways the modules must handle:
every write (and the POST-based reads) needs the C(osd-xsrf) header, the workspace API
answers failures with HTTP 200 and C({"success": false, "error": ...}), and the saved
objects import takes a multipart upload instead of JSON.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import uuid

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.claude_code.observability.plugins.module_utils.api_client import ApiError, quote_path
from ansible_collections.claude_code.observability.plugins.module_utils.opensearch import OpenSearchModule

XSRF_HEADER = "osd-xsrf"
WORKSPACE_HINT = (
    "Is the workspace feature enabled (workspace.enabled: true in opensearch_dashboards.yml, "
    "OpenSearch Dashboards 2.18 or later)?"
)

# Fields OpenSearch Dashboards adds to, or keeps beside, a saved object; never part of what a file asks for.
SERVER_OBJECT_FIELDS = (
    "updated_at",
    "created_at",
    "version",
    "migrationVersion",
    "coreMigrationVersion",
    "typeMigrationVersion",
    "namespaces",
    "workspaces",
    "originId",
    "permissions",
    "managed",
    "score",
    "sort",
    "error",
)


class OsdModule(OpenSearchModule):
    """OpenSearchModule whose client always sends the header OpenSearch Dashboards requires on writes."""

    def __init__(self, *args, **kwargs):
        super(OsdModule, self).__init__(*args, **kwargs)
        # The header is harmless on GET and required on every POST/PUT/DELETE, including the
        # POST-based reads (_list, _bulk_get), so it is always sent.
        if not any(k.lower() == XSRF_HEADER for k in self.client.headers):
            self.client.headers[XSRF_HEADER] = "true"


def workspace_prefix(workspace_id):
    """URL prefix that scopes a saved-objects call to one workspace (C(/w/<id>)); empty for the default space."""
    if not workspace_id:
        return ""
    return "w/%s/" % quote_path(workspace_id)


class WorkspaceApiError(Exception):
    """The workspace API said C(success: false) (it answers HTTP 200 with the reason in C(error))."""

    def __init__(self, method, url, error):
        self.method = method
        self.url = url
        self.error = to_text(error or "unknown error")
        super(WorkspaceApiError, self).__init__("%s %s answered success=false: %s" % (method, url, self.error))


def workspace_call(osm, action, method, path, body=None):
    """One workspace API call; returns C(result). Fails the module on HTTP errors and on C(success: false)."""
    try:
        _status, answer = osm.client.request(method, path, body=body)
    except ApiError as exc:
        if exc.status == 404 and not exc.hint:
            exc.hint = WORKSPACE_HINT
        osm.fail_api(action, exc)
    if not isinstance(answer, dict) or "success" not in answer:
        osm.fail(
            "Could not %s: %s %s did not answer like the workspace API (%s). %s"
            % (action, method, osm.client.url_for(path), to_text(json.dumps(answer))[:300], WORKSPACE_HINT)
        )
    if not answer.get("success"):
        raise WorkspaceApiError(method, osm.client.url_for(path), answer.get("error"))
    return answer.get("result")


def list_workspaces(osm, page_size=100):
    """Every workspace, following the pages of C(POST /api/workspaces/_list)."""
    found = []
    page = 1
    while True:
        try:
            result = workspace_call(
                osm, "list workspaces", "POST", "api/workspaces/_list", body={"page": page, "perPage": page_size}
            )
        except WorkspaceApiError as exc:
            osm.fail("Could not list workspaces: %s" % exc)
        items = (result or {}).get("workspaces") or []
        found.extend(items)
        total = (result or {}).get("total")
        if not items or len(items) < page_size or (total is not None and len(found) >= int(total)):
            return found
        page += 1


def find_workspace_by_name(osm, name):
    """The workspace with exactly this name (the list API's search is fuzzy), or None."""
    matches = [w for w in list_workspaces(osm) if w.get("name") == name]
    if len(matches) > 1:
        osm.fail(
            "%d workspaces are named %r (ids %s); the module matches workspaces by name and cannot choose. "
            "Rename or delete the extra ones." % (len(matches), name, ", ".join(sorted(w.get("id") for w in matches)))
        )
    return matches[0] if matches else None


def get_workspace(osm, workspace_id):
    """The workspace with this id, or None when the server says it does not exist."""
    try:
        return workspace_call(
            osm, "read workspace %s" % workspace_id, "GET", "api/workspaces/" + quote_path(workspace_id)
        )
    except WorkspaceApiError as exc:
        if "not found" in exc.error.lower():
            return None
        osm.fail("Could not read workspace %s: %s" % (workspace_id, exc))


def encode_multipart(field, filename, content, content_type="application/ndjson"):
    """A multipart/form-data body with one file field; returns (content type header, body bytes)."""
    boundary = "----claude-code-observability-%s" % uuid.uuid4().hex
    head = '--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\nContent-Type: %s\r\n\r\n' % (
        boundary,
        field,
        filename,
        content_type,
    )
    body = to_bytes(head) + to_bytes(content) + to_bytes("\r\n--%s--\r\n" % boundary)
    return "multipart/form-data; boundary=%s" % boundary, body


def post_multipart(client, path, field, filename, content, query=None, expect=(200,)):
    """POST one file as multipart/form-data through the collection's client (auth, TLS, errors unchanged)."""
    content_type, body = encode_multipart(field, filename, content)
    saved = dict(client.headers)
    # The client sets a JSON content type for bodies; its own headers take precedence over that default.
    for key in list(client.headers):
        if key.lower() == "content-type":
            del client.headers[key]
    client.headers["Content-Type"] = content_type
    try:
        return client.request("POST", path, query=query, raw_body=body, expect=expect)[1]
    finally:
        client.headers.clear()
        client.headers.update(saved)


class NdjsonError(ValueError):
    """A line of the saved-objects file that cannot be imported; names the line."""


def parse_ndjson(text, source="content"):
    """Saved objects of an export file, as (line number, object); blank lines and the export summary are skipped."""
    objects = []
    seen = {}
    for number, line in enumerate(to_text(text).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise NdjsonError("%s line %d is not valid JSON: %s" % (source, number, exc)) from None
        if not isinstance(obj, dict):
            raise NdjsonError("%s line %d is not a JSON object" % (source, number))
        if "exportedCount" in obj and "type" not in obj:
            # The summary line an export appends; OpenSearch Dashboards ignores it on import too.
            continue
        missing = [k for k in ("type", "id") if not isinstance(obj.get(k), str) or not obj.get(k)]
        if missing:
            raise NdjsonError("%s line %d has no %s" % (source, number, " and no ".join(missing)))
        if not isinstance(obj.get("attributes"), dict):
            raise NdjsonError("%s line %d (%s/%s) has no attributes object" % (source, number, obj["type"], obj["id"]))
        key = object_key(obj)
        if key in seen:
            raise NdjsonError("%s line %d repeats %s, already on line %d" % (source, number, key, seen[key]))
        seen[key] = number
        objects.append((number, obj))
    return objects


def object_key(obj):
    return "%s/%s" % (obj.get("type"), obj.get("id"))


def _expand_json_strings(value, key=""):
    """Attributes such as visState or searchSourceJSON hold JSON as a string: compare (and show) them parsed."""
    if isinstance(value, dict):
        return dict((k, _expand_json_strings(v, k)) for k, v in value.items())
    if isinstance(value, list):
        return [_expand_json_strings(v) for v in value]
    if isinstance(value, str) and (key.endswith("JSON") or key in ("visState", "fields", "fieldFormatMap")):
        try:
            return {"(parsed JSON)": _expand_json_strings(json.loads(value))}
        except ValueError:
            return value
    return value


def comparable_object(obj):
    """type, id, attributes and references only, with JSON-in-string attributes parsed and references sorted."""
    if obj is None:
        return None
    refs = [dict((k, r.get(k)) for k in ("name", "type", "id")) for r in (obj.get("references") or [])]
    refs.sort(key=lambda r: (to_text(r.get("name")), to_text(r.get("type")), to_text(r.get("id"))))
    return {
        "type": obj.get("type"),
        "id": obj.get("id"),
        "attributes": _expand_json_strings(copy.deepcopy(obj.get("attributes") or {})),
        "references": refs,
    }


def without_server_fields(obj):
    return dict((k, v) for k, v in (obj or {}).items() if k not in SERVER_OBJECT_FIELDS)

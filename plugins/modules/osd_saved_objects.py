#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: osd_saved_objects
short_description: Import OpenSearch Dashboards saved objects (index patterns, visualizations, dashboards) idempotently
version_added: 1.0.0
description:
  - Makes the saved objects of an export file (newline-delimited JSON, one object per line, as written by
    the saved objects export of OpenSearch Dashboards) exist in a workspace or in the default space.
  - Reads the listed objects once (C(POST /api/saved_objects/_bulk_get), inside the workspace when one is
    given, under C(/w/<workspace_id>/api/...)), compares type, id, attributes and references after dropping what
    the server adds (C(updated_at), C(version), C(migrationVersion), C(coreMigrationVersion), C(namespaces),
    C(workspaces), ...), and imports only the objects that are missing or differ
    (C(POST /api/saved_objects/_import?overwrite=true), multipart upload). Nothing is written when every
    object already matches.
  - Attributes that hold JSON as a string (C(visState), C(searchSourceJSON), C(panelsJSON), ...) are
    compared parsed, so formatting differences are not changes.
  - With O(state=absent), deletes the listed objects that exist.
  - The whole file is checked before any request; a line that does not parse fails the task with its
    line number and nothing is imported.
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports which objects would be created, updated or deleted and writes nothing.
  diff_mode:
    support: full
    description: Shows, per object C(<type>/<id>), the stored and the desired attributes and references.
options:
  src:
    description:
      - Path of the export file (C(.ndjson)) on the host the module runs on.
      - One of O(src) and O(content) is required, except with O(state=absent) and O(objects).
    type: path
  content:
    description:
      - The export file's content, for example from a C(template) lookup. Mutually exclusive with O(src).
    type: str
  objects:
    description:
      - With O(state=absent), the objects to delete, instead of (or in addition to) those of O(src)/O(content).
    type: list
    elements: dict
    suboptions:
      type:
        description: Saved object type, for example V(dashboard).
        type: str
        required: true
      id:
        description: Saved object id.
        type: str
        required: true
  workspace_id:
    description:
      - Id of the workspace to import into (the RV(claude_code.observability.osd_workspace#module:id) an
        M(claude_code.observability.osd_workspace) task returns). Unset means the default space.
      - The task fails, before any write, when the workspace does not exist.
    type: str
  workspace:
    description:
      - Name of the workspace to import into, looked up with C(POST /api/workspaces/_list).
        Mutually exclusive with O(workspace_id).
      - A workspace that does not exist fails the task, except in check mode, where every object is
        reported as to be created (with a warning), since an earlier
        M(claude_code.observability.osd_workspace) task has not created it in a check-mode run either.
    type: str
  state:
    description: V(present) imports missing or different objects; V(absent) deletes the listed objects.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Saved object ids are unique across the whole OpenSearch Dashboards instance; give objects meant for
    different workspaces different ids.
  - Import the file a saved objects export produced (already migrated to the server's version); objects
    that OpenSearch Dashboards migrates on import would differ from the file on every run.
  - The server's per-object import errors (C(missing_references), C(conflict), C(unsupported_type), ...)
    fail the task with the object and the reason; objects imported before are listed in the message.
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: Claude Code dashboards in the workspace created before
  claude_code.observability.osd_saved_objects:
    url: http://127.0.0.1:5601
    user: admin
    password: "{{ vault_osd_admin_password }}"
    src: /etc/claude-code-observability/osd/claude-code.ndjson
    workspace_id: "{{ claude_workspace.id }}"

- name: Same, from a template, into the default space, showing what would change
  claude_code.observability.osd_saved_objects:
    url: http://127.0.0.1:5601
    content: "{{ lookup('ansible.builtin.template', 'claude-code.ndjson.j2') }}"
  check_mode: true
  diff: true

- name: Remove one dashboard
  claude_code.observability.osd_saved_objects:
    url: http://127.0.0.1:5601
    workspace: Claude Code
    state: absent
    objects:
      - {type: dashboard, id: claude-code-overview}
"""

RETURN = r"""
created:
  description: Objects (C(<type>/<id>)) that did not exist and were imported (or would be, in check mode).
  returned: when O(state=present)
  type: list
  elements: str
  sample: ["index-pattern/claude-code", "dashboard/claude-code-overview"]
updated:
  description: Objects that existed with other attributes or references and were re-imported.
  returned: when O(state=present)
  type: list
  elements: str
  sample: ["visualization/claude-code-cost-by-model"]
unchanged:
  description: Objects that already matched; nothing was sent for them.
  returned: when O(state=present)
  type: list
  elements: str
deleted:
  description: Objects deleted (or that would be, in check mode).
  returned: when O(state=absent)
  type: list
  elements: str
workspace_id:
  description: Id of the workspace the objects belong to; null for the default space.
  returned: always
  type: str
import_result:
  description: The server's answer to the import (C(success), C(successCount), C(successResults)).
  returned: when objects were imported
  type: dict
diff:
  description: Stored and desired objects that differ, keyed by C(<type>/<id>), in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

import json  # noqa: E402
import os  # noqa: E402

from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.api_client import (  # noqa: E402
    ApiError,
    quote_path,
)
from ansible_collections.claude_code.observability.plugins.module_utils.compare import (  # noqa: E402
    equal,
    to_text_block,
)
from ansible_collections.claude_code.observability.plugins.module_utils.osd import (  # noqa: E402
    NdjsonError,
    OsdModule,
    comparable_object,
    find_workspace_by_name,
    get_workspace,
    object_key,
    parse_ndjson,
    post_multipart,
    workspace_prefix,
)

BULK_GET_CHUNK = 500
UPLOAD_NAME = "claude-code-observability.ndjson"
MISSING_IN_CHECK_MODE = object()


def load_objects(osm):
    p = osm.params
    if p["src"]:
        path = p["src"]
        if not os.path.isfile(path):
            osm.fail("src %s does not exist or is not a file" % path)
        try:
            with open(path, "rb") as handle:
                text = to_text(handle.read(), errors="surrogate_or_strict")
        except (IOError, OSError, UnicodeError) as exc:
            osm.fail("Could not read src %s: %s" % (path, to_text(exc)))
        source = path
    elif p["content"] is not None:
        text, source = p["content"], "content"
    else:
        return []
    try:
        return [obj for _line, obj in parse_ndjson(text, source)]
    except NdjsonError as exc:
        osm.fail("%s. Nothing was imported." % to_text(exc))


def resolve_workspace(osm):
    p = osm.params
    if p["workspace"]:
        found = find_workspace_by_name(osm, p["workspace"])
        if found is None and osm.check_mode:
            # In a check-mode run the osd_workspace task before this one has not created it either.
            osm.module.warn(
                "Workspace %r does not exist (yet): every object is reported as to be created in it" % p["workspace"]
            )
            return MISSING_IN_CHECK_MODE
        if found is None:
            osm.fail(
                "Workspace %r does not exist on %s (create it first, for example with "
                "claude_code.observability.osd_workspace). Nothing was imported."
                % (p["workspace"], osm.client.base_url)
            )
        return found["id"]
    if p["workspace_id"]:
        if get_workspace(osm, p["workspace_id"]) is None:
            osm.fail(
                "Workspace id %s does not exist on %s (ids are generated by the server: use the id an "
                "osd_workspace task returns, or the workspace option with its name). Nothing was imported."
                % (p["workspace_id"], osm.client.base_url)
            )
        return p["workspace_id"]
    return None


def read_objects(osm, prefix, keys):
    """Stored objects visible in the workspace (or default space), by "type/id"; missing ones are absent."""
    found = {}
    for start in range(0, len(keys), BULK_GET_CHUNK):
        chunk = keys[start : start + BULK_GET_CHUNK]
        # Types never hold a slash; ids may.
        body = [dict(type=k.split("/", 1)[0], id=k.split("/", 1)[1]) for k in chunk]
        answer = osm.call("read saved objects", osm.client.post, prefix + "api/saved_objects/_bulk_get", body=body)
        for item in (answer or {}).get("saved_objects") or []:
            if not isinstance(item, dict):
                continue
            error = item.get("error")
            if error:
                status = error.get("statusCode") if isinstance(error, dict) else None
                if status in (404, None) or "not found" in to_text(error).lower():
                    continue
                osm.fail(
                    "Could not read saved object %s: %s"
                    % (object_key(item), to_text(json.dumps(error, sort_keys=True)))
                )
            found[object_key(item)] = item
    return found


def describe_errors(errors):
    lines = []
    for err in errors or []:
        detail = err.get("error") or {}
        text = "%s (%s): %s" % (
            object_key(err),
            err.get("title") or (err.get("meta") or {}).get("title") or "",
            detail.get("type"),
        )
        refs = detail.get("references")
        if refs:
            text += " %s" % ", ".join(object_key(r) for r in refs)
        if detail.get("message"):
            text += " %s" % detail["message"]
        lines.append(text)
    return "; ".join(lines)


def main():
    osm = OsdModule(
        dict(
            src=dict(type="path"),
            content=dict(type="str"),
            objects=dict(
                type="list",
                elements="dict",
                options=dict(type=dict(type="str", required=True), id=dict(type="str", required=True)),
            ),
            workspace_id=dict(type="str"),
            workspace=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        mutually_exclusive=[("src", "content"), ("workspace_id", "workspace")],
        required_if=[("state", "present", ("src", "content"), True)],
    )
    p = osm.params
    if p["state"] == "present" and p["objects"]:
        osm.fail("objects is only used with state=absent; put the objects to import in src or content")
    objects = load_objects(osm)
    if p["state"] == "absent" and not objects and not p["objects"]:
        osm.fail("state=absent needs src, content or objects to know what to delete")

    workspace_id = resolve_workspace(osm)
    pending_workspace = workspace_id is MISSING_IN_CHECK_MODE
    if pending_workspace:
        workspace_id = None
    prefix = workspace_prefix(workspace_id)
    label = "workspace %s" % (workspace_id or p["workspace"]) if workspace_id or p["workspace"] else "the default space"

    desired = {}
    for obj in objects:
        desired[object_key(obj)] = obj
    keys = list(desired)
    for ref in p["objects"] or []:
        key = "%s/%s" % (ref["type"], ref["id"])
        if key not in desired:
            keys.append(key)

    current = {} if pending_workspace else read_objects(osm, prefix, keys)

    if p["state"] == "absent":
        # Dependents first (a dashboard before the visualizations and index pattern it uses).
        doomed = [k for k in reversed(keys) if k in current]
        if not doomed:
            osm.exit(False, deleted=[], workspace_id=workspace_id)
        if not osm.check_mode:
            for key in doomed:
                otype, oid = key.split("/", 1)
                try:
                    osm.client.delete(prefix + "api/saved_objects/%s/%s" % (quote_path(otype), quote_path(oid)))
                except ApiError as exc:
                    osm.fail_api("delete saved object %s" % key, exc)
                osm.applied.append("%s deleted" % key)
        diff = dict(
            before=to_text_block(dict((k, comparable_object(current[k])) for k in doomed)),
            after=to_text_block({}),
            before_header="saved objects in %s (current)" % label,
            after_header="saved objects in %s (desired)" % label,
        )
        osm.exit(True, deleted=doomed, workspace_id=workspace_id, diff=diff)

    created, updated, unchanged = [], [], []
    for key in keys:
        if key not in current:
            created.append(key)
        elif equal(comparable_object(current[key]), comparable_object(desired[key])):
            unchanged.append(key)
        else:
            updated.append(key)
    result = dict(created=created, updated=updated, unchanged=unchanged, workspace_id=workspace_id)
    changed_keys = created + updated

    def write(cur):
        upload = "".join(json.dumps(desired[k], sort_keys=True) + "\n" for k in changed_keys)
        try:
            answer = post_multipart(
                osm.client,
                prefix + "api/saved_objects/_import",
                "file",
                UPLOAD_NAME,
                upload,
                query={"overwrite": "true"},
            )
        except ApiError as exc:
            osm.fail_api("import %d saved objects into %s" % (len(changed_keys), label), exc)
        answer = answer if isinstance(answer, dict) else {}
        imported = [object_key(r) for r in answer.get("successResults") or []]
        if answer.get("errors") or not answer.get("success"):
            osm.module.fail_json(
                msg="The import into %s reported errors for %d of %d objects: %s.%s"
                % (
                    label,
                    len(answer.get("errors") or []),
                    len(changed_keys),
                    describe_errors(answer.get("errors")) or to_text(json.dumps(answer))[:500],
                    " Imported anyway: %s." % ", ".join(imported) if imported else " Nothing was imported.",
                ),
                changed=bool(imported),
                import_result=answer,
                **result,
            )
        return dict(result, import_result=answer)

    # Only the objects that differ are shown, keyed by "type/id".
    osm.ensure_present(
        current,
        dict((k, comparable_object(current[k])) for k in changed_keys if k in current),
        dict((k, comparable_object(desired[k])) for k in changed_keys),
        "saved objects in %s" % label,
        write,
        differs=bool(changed_keys),
        result=result,
    )


if __name__ == "__main__":
    main()

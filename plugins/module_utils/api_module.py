# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The skeleton every API module of the collection shares: AnsibleModule with
the common connection options, one ApiClient, uniform failure reporting, and the
lifecycle of one API object (read, compare, check mode and diff, write, exit)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.parse import urlsplit
from ansible_collections.claude_code.observability.plugins.module_utils.api_client import (
    CONNECTION_MUTUALLY_EXCLUSIVE,
    CONNECTION_REQUIRED_TOGETHER,
    ApiClient,
    ApiError,
    connection_argument_spec,
)
from ansible_collections.claude_code.observability.plugins.module_utils.compare import equal, make_diff


def redact_obj(client, obj):
    """Pass an object through the client's secret masking (for error bodies echoed to the user)."""
    if obj is None:
        return None
    try:
        return json.loads(client.redact(json.dumps(obj)))
    except ValueError:
        return client.redact(obj)


class ApiModule:
    """AnsibleModule + ApiClient with the collection's connection options and error reporting.

    Every module manages its object the same way: one read (``read``), then ``ensure_absent``
    or ``ensure_present``, which compare, report check mode and diff mode, write only when
    something differs and exit. A module supplies the views to compare and the calls that
    delete or write; the decisions and the exits are made here, once.
    """

    def __init__(
        self,
        argument_spec,
        mutually_exclusive=None,
        required_if=None,
        required_together=None,
        secret_params=(),
        plugin=None,
    ):
        self.plugin = plugin
        spec = connection_argument_spec()
        spec.update(argument_spec)
        self.module = AnsibleModule(
            argument_spec=spec,
            supports_check_mode=True,
            mutually_exclusive=list(CONNECTION_MUTUALLY_EXCLUSIVE) + list(mutually_exclusive or []),
            required_together=list(CONNECTION_REQUIRED_TOGETHER) + list(required_together or []),
            required_if=required_if or [],
        )
        self.params = self.module.params
        secrets = []
        for name in secret_params:
            value = self.params.get(name)
            if isinstance(value, dict):
                secrets.extend(str(v) for v in value.values() if v not in (None, ""))
            elif value:
                secrets.append(str(value))
        inline = urlsplit(self.params["url"]).password
        if inline:
            # A password written into the URL is as secret as the password option.
            secrets.append(inline)
            self.module.no_log_values.add(inline)
        self.client = ApiClient.from_module(self.module, secrets=secrets)
        self.check_mode = self.module.check_mode
        self.diff_mode = self.module._diff
        self.applied = []

    def call(self, action, fn, *args, **kwargs):
        """Run one API call; on failure, fail the module with a message naming the action."""
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            self.fail_api(action, exc)

    def read(self, what, path, query=None):
        """GET one object, None when the server answers 404; a failure names "read <what>"."""
        return self.call("read " + what, self.client.get, path, query=query, missing_ok=True)

    def delete(self, what, path, query=None):
        """DELETE one object (a 404 is no error: it is gone already); a failure names "delete <what>"."""
        return self.call("delete " + what, self.client.delete, path, query=query)

    def ensure_absent(self, current, before, name, delete, result=None):
        """state=absent: exit unchanged when there is nothing (current is None); otherwise call
        delete(current), except in check mode, and exit changed with before (the view of what is
        deleted) as the diff. result holds the return keys of both exits."""
        result = result or {}
        if current is None:
            self.exit(False, **result)
        if not self.check_mode:
            delete(current)
        self.exit(True, diff=make_diff(before, None, name), **result)

    def ensure_present(
        self, current, before, after, name, write, result=None, check_result=None, differs=None, force=False
    ):
        """state=present, after the one read that gave current (None when missing).

        before and after are the comparable views of the stored and the desired object (before
        is None when nothing is stored); differs overrides the comparison (by default: nothing
        stored, or before and after not equal after normalize_scalars) and force writes even when
        nothing differs. Unchanged: exit with result. Check mode: exit changed with the diff and
        check_result (default result), writing nothing. Otherwise write(current) makes the calls
        and returns the return keys of the run, and the module exits changed with the diff.
        """
        if differs is None:
            differs = current is None or not equal(before, after)
        if not differs and not force:
            self.exit(False, **(result or {}))
        diff = make_diff(before, after, name)
        if self.check_mode:
            shown = result if check_result is None else check_result
            self.exit(True, diff=diff, **(shown or {}))
        self.exit(True, diff=diff, **(write(current) or {}))

    def fail_api(self, action, exc):
        msg = "Could not %s: %s%s" % (action, exc.message, self.hint(exc))
        if self.applied:
            msg += " (already applied before this failure: %s)" % ", ".join(self.applied)
        result = exc.to_result()
        result["body"] = redact_obj(self.client, result.get("body"))
        self.module.fail_json(msg=msg, error=result, changed=bool(self.applied))

    def hint(self, exc):
        """Extra advice for a failed call; servers with plugins override this."""
        return ""

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def exit(self, changed, diff=None, **result):
        if diff is not None and self.diff_mode:
            result["diff"] = diff
        self.module.exit_json(changed=changed, **result)

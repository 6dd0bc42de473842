# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The skeleton every API module of the collection shares: AnsibleModule with
the common connection options, one ApiClient, and uniform failure reporting."""

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


def redact_obj(client, obj):
    """Pass an object through the client's secret masking (for error bodies echoed to the user)."""
    if obj is None:
        return None
    try:
        return json.loads(client.redact(json.dumps(obj)))
    except ValueError:
        return client.redact(obj)


class ApiModule:
    """AnsibleModule + ApiClient with the collection's connection options and error reporting."""

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

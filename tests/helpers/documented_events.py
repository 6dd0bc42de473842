"""Claude Code's log events and their attributes as Anthropic's monitoring documentation lists them.

Source: https://code.claude.com/docs/en/monitoring-usage, sections "Standard attributes",
"Repository attributes", "Events" and "Audit security events". The captured sessions
(shared/fixtures, tests/fixtures) hold only what a headless run with an API key produces: no
permission mode change, hook run, MCP server, skill, refusal or login, and no `user.email`
(sent only when signed in with a Claude account). The dashboards' checks accept an event or an
attribute the captures lack only when it is listed here, under the name the documentation gives.

Each attribute's kind is what the documentation says of its value: "number" for counts and
durations, "boolean" when its only values are true and false (sent as booleans or as the strings
"true" and "false"), "string" otherwise. Only a "number" may be unwrapped (LogQL) or summed
(OpenSearch).
"""

from __future__ import annotations

# "All metrics and events share these standard attributes", plus those events add.
STANDARD_ATTRIBUTES = {
    "session.id": "string",
    "app.version": "string",
    "app.entrypoint": "string",
    "organization.id": "string",
    "user.account_uuid": "string",
    "user.account_id": "string",
    "user.id": "string",
    # "User email address (when authenticated via OAuth)"
    "user.email": "string",
    "terminal.type": "string",
    "prompt.id": "string",
    "event.name": "string",
    "event.timestamp": "string",
    "event.sequence": "number",
    # OTEL_METRICS_INCLUDE_REPOSITORY=true: "tag metrics and events with the session's repository"
    "vcs.repository.url.full": "string",
    "vcs.owner.name": "string",
    "vcs.repository.name": "string",
    "vcs.provider.name": "string",
}

EVENTS = {
    # "Logged when a tool permission decision is made (accept/reject)."
    "tool_decision": {
        "tool_name": "string",
        "tool_use_id": "string",
        "decision": "string",
        "tool_source": "string",
        "source": "string",
        "tool_parameters": "string",
    },
    # "Logged when the permission mode changes, for example from Shift+Tab cycling, exiting plan
    # mode, or an auto mode gate check."
    "permission_mode_changed": {
        "from_mode": "string",
        "to_mode": "string",
        "trigger": "string",
    },
    # "Logged when /login or /logout completes."
    "auth": {
        "action": "string",
        "success": "boolean",
        "auth_method": "string",
        "error_category": "string",
        "status_code": "string",
    },
    # "Logged when an MCP server connects, disconnects, or fails to connect."
    "mcp_server_connection": {
        "status": "string",
        "transport_type": "string",
        "server_scope": "string",
        "duration_ms": "number",
        "error_code": "string",
        "is_plugin": "boolean",
        "plugin_id_hash": "string",
        "plugin.name": "string",
        "server_name": "string",
        "error": "string",
    },
    # "Logged when a plugin finishes installing"
    "plugin_installed": {
        "marketplace.is_official": "boolean",
        "install.trigger": "string",
        "plugin.name": "string",
        "plugin.version": "string",
        "marketplace.name": "string",
    },
    # "Logged once per enabled plugin at session start."
    "plugin_loaded": {
        "plugin.name": "string",
        "marketplace.name": "string",
        "plugin.version": "string",
        "plugin.scope": "string",
        "enabled_via": "string",
        "plugin_id_hash": "string",
        "has_hooks": "boolean",
        "has_mcp": "boolean",
        "host_owned_mcp": "boolean",
        "skill_path_count": "number",
        "command_path_count": "number",
        "agent_path_count": "number",
        "safe_mode": "boolean",
    },
    # "Logged when a skill is invoked, whether Claude calls it through the Skill tool or you run it
    # as a / command."
    "skill_activated": {
        "skill.name": "string",
        "invocation_trigger": "string",
        "skill.source": "string",
        "skill.kind": "string",
        "plugin.name": "string",
        "marketplace.name": "string",
    },
    # "Logged once per configured hook at session start."
    "hook_registered": {
        "hook_event": "string",
        "hook_type": "string",
        "hook_source": "string",
        "safe_mode": "boolean",
        "hook_matcher": "string",
        "plugin.name": "string",
        "plugin_id_hash": "string",
    },
    # "Logged when one or more hooks begin executing for a hook event."
    "hook_execution_start": {
        "hook_event": "string",
        "hook_name": "string",
        "num_hooks": "number",
        "managed_only": "string",
        "hook_source": "string",
        "safe_mode": "boolean",
        "hook_definitions": "string",
    },
    # "Logged when all hooks for a hook event have finished."
    "hook_execution_complete": {
        "hook_event": "string",
        "hook_name": "string",
        "num_hooks": "number",
        "num_success": "number",
        "num_blocking": "number",
        "num_non_blocking_error": "number",
        "num_cancelled": "number",
        "total_duration_ms": "number",
        "managed_only": "string",
        "hook_source": "string",
        "safe_mode": "boolean",
        "hook_definitions": "string",
    },
    # "Logged when an API request to Claude fails."
    "api_error": {
        "model": "string",
        "error": "string",
        "status_code": "number",
        "duration_ms": "number",
        "attempt": "number",
        "request_id": "string",
        "client_request_id": "string",
        "speed": "string",
        "query_source": "string",
        "effort": "string",
    },
    # "Logged when an API request returns stop_reason: "refusal". Refusals arrive on a successful
    # response stream rather than as an HTTP error, so the api_error event doesn't fire for them."
    "api_refusal": {
        "model": "string",
        "request_id": "string",
        "query_source": "string",
        "speed": "string",
        "attempt": "number",
        "effort": "string",
        "server_fallback_hop": "boolean",
        "has_category": "boolean",
        "has_explanation": "boolean",
        "category": "string",
    },
    # Logged when a session resolves its managed settings: at session start, when the managed
    # settings or the policy helper's state change, and when Claude Code refuses to start (v2.1.274
    # or later; also in the captures). `error.type` is present on refused events only.
    "managed_settings_resolved": {
        "managed_settings.trigger": "string",
        "error.type": "string",
        "managed_settings.sources": "string",
        "managed_settings.source_behavior": "string",
        "managed_settings.helper.state": "string",
        "managed_settings.helper.applied": "string",
        "managed_settings.helper.entry": "string",
        "managed_settings.helper.path": "string",
        "managed_settings.resolved_sha256": "string",
        "managed_settings.settings": "string",
        "managed_settings.settings_truncated": "boolean",
    },
}

# The documented values of tool_decision's `decision` and `source`; "user_abort" and "user_reject"
# are "Treated as a reject".
DECISIONS = ("accept", "reject")
DECISION_SOURCES = ("config", "hook", "user_permanent", "user_temporary", "user_abort", "user_reject")
# mcp_server_connection's `status`.
MCP_STATUSES = ("connected", "failed", "disconnected")

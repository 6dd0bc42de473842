"""A role's options typed once from its argument spec (plugins/plugin_utils/role_options.py): each
type, each refusal, null handling, nested options; the filter and the action's helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible.template import is_trusted_as_template  # noqa: E402
from ansible_collections.claude_code.observability.plugins.action import role_options as action  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import role_options as flt  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils import role_options as ro  # noqa: E402

pytestmark = pytest.mark.unit


def typed(spec, value, **kwargs):
    """One option `x` of the given spec, typed from `value` (absent when value is ...)."""
    variables = {} if value is ... else {"x": value}
    return ro.typed_options({"x": spec}, variables, where="test", **kwargs)["x"]


def refused(spec, value, **kwargs):
    with pytest.raises(ro.RoleOptionsError) as info:
        typed(spec, value, **kwargs)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


# --- booleans: what Ansible's boolean() accepts, in any case ----------------------------------

TRUE = [True, "true", "True", "TRUE", "yes", "Yes", "on", "ON", "1", 1, "y", "t"]
FALSE = [False, "false", "False", "FALSE", "no", "No", "off", "OFF", "0", 0, "n", "f"]


@pytest.mark.parametrize("value", TRUE)
def test_a_bool_takes_every_spelling_of_true(value):
    assert typed({"type": "bool"}, value) is True


@pytest.mark.parametrize("value", FALSE)
def test_a_bool_takes_every_spelling_of_false(value):
    assert typed({"type": "bool"}, value) is False


@pytest.mark.parametrize(
    ("value", "shown"),
    [("maybe", "'maybe'"), ("", "'' (empty text)"), (2, "2 (a number)"), ([True], "[true] (a list)")],
)
def test_a_bool_refuses_anything_else(value, shown):
    assert refused({"type": "bool"}, value) == (
        "x must be true or false (also yes/no, on/off or 1/0, in any case); got %s." % shown
    )


# --- whole numbers and numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(4318, 4318), ("4318", 4318), (" 4318 ", 4318), ("0", 0), (4318.0, 4318)]
)
def test_an_int_takes_a_number_or_its_text(value, expected):
    result = typed({"type": "int"}, value)
    assert result == expected and isinstance(result, int) and not isinstance(result, bool)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("43.5", "'43.5'"),
        ("lots", "'lots'"),
        (True, "true (a boolean)"),
        ("", "'' (empty text)"),
        ({}, "an empty dict"),
    ],
)
def test_an_int_refuses_fractions_words_and_booleans(value, shown):
    assert refused({"type": "int"}, value) == "x must be a whole number (such as 4318); got %s." % shown


def test_a_float_takes_a_number_or_its_text_but_no_boolean():
    assert typed({"type": "float"}, "0.5") == 0.5 and typed({"type": "float"}, 2) == 2.0
    assert refused({"type": "float"}, False) == "x must be a number; got false (a boolean)."


# --- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["str", "path", None])
def test_text_takes_text_and_numbers(kind):
    spec = {"type": kind} if kind else {}
    assert typed(spec, "~/x") == "~/x"  # a path names a file on the managed host: not expanded here
    assert typed(spec, 10) == "10" and typed(spec, 1.5) == "1.5"


def test_text_refuses_a_boolean_a_list_and_a_dict():
    assert refused({"type": "str"}, True) == (
        "x must be text; got true (a boolean). YAML reads an unquoted yes/no/on/off/true/false as a boolean: "
        "put the text in quotes."
    )
    assert refused({"type": "str"}, ["a"]) == 'x must be text; got ["a"] (a list).'
    assert refused({"type": "str"}, {"a": 1}) == "x must be text; got a dict with the keys a."


def test_raw_is_kept_as_given():
    assert typed({"type": "raw"}, "auto") == "auto" and typed({"type": "raw"}, ["bash"]) == ["bash"]


# --- choices -------------------------------------------------------------------------------------


def test_choices_are_checked_after_the_conversion():
    assert typed({"type": "str", "choices": ["present", "absent"]}, "absent") == "absent"
    assert typed({"type": "int", "choices": [1, 2]}, "2") == 2
    assert refused({"type": "str", "choices": ["present", "absent"]}, "absnet") == (
        "x must be one of present, absent; got 'absnet'."
    )


# --- lists ---------------------------------------------------------------------------------------


def test_a_list_converts_each_element():
    assert typed({"type": "list", "elements": "int"}, ["1", 2]) == [1, 2]
    assert typed({"type": "list", "elements": "bool"}, ("yes", "off")) == [True, False]
    assert typed({"type": "list"}, ["a", 1]) == ["a", 1]  # no elements: as given


def test_a_list_refuses_a_bare_string_with_the_fix():
    spec = {"type": "list", "elements": "str", "description": "Where to write."}
    assert refused(spec, "shell_profiles") == (
        "x must be a list; got the string 'shell_profiles'. Give a list: in YAML x: [shell_profiles], "
        'on the command line -e \'{"x": ["shell_profiles"]}\'.'
    )
    assert refused(spec, "a,b").startswith("x must be a list; got the string 'a,b'.")  # no comma splitting
    assert refused(spec, 3) == "x must be a list; got 3 (a number)."


def test_a_string_is_one_item_only_where_the_description_says_so():
    spec = {"type": "list", "elements": "str", "description": ["Users.", ro.ONE_ITEM]}
    assert typed(spec, "alice") == ["alice"]
    folded = {"type": "list", "elements": "str", "description": "Where to write. " + ro.ONE_ITEM + " More."}
    assert typed(folded, "a,b") == ["a,b"]


def test_a_list_names_the_wrong_element():
    spec = {"type": "list", "elements": "int"}
    with pytest.raises(ro.RoleOptionsError) as info:
        typed(spec, ["1", "x", None])
    assert info.value.problems == [
        "x[1] must be a whole number (such as 4318); got 'x'.",
        "x[2] must not be empty (null).",
    ]


def test_list_choices_apply_to_each_element():
    spec = {"type": "list", "elements": "str", "choices": ["user_settings", "shell_profiles"]}
    assert typed(spec, ["shell_profiles"]) == ["shell_profiles"]
    assert refused(spec, ["user_settings", "shell_profile"]) == (
        "x may only hold user_settings, shell_profiles; got 'shell_profile'."
    )


# --- dicts and nested options --------------------------------------------------------------------


def test_a_dict_takes_a_mapping_or_json_text():
    assert typed({"type": "dict"}, {"a": "1"}) == {"a": "1"}
    assert typed({"type": "dict"}, '{"a": 1}') == {"a": 1}
    assert typed({"type": "dict"}, "a=1 b=2") == {"a": "1", "b": "2"}  # Ansible's check_type_dict
    assert refused({"type": "dict"}, ["a"]) == (
        'x must be a dict (key: value); got ["a"] (a list). In YAML give it as a mapping, on the command line as '
        'JSON (-e \'{"x": {"key": "value"}}\').'
    )
    assert refused({"type": "dict"}, "nonsense").startswith("x must be a dict (key: value); got 'nonsense'.")


NESTED = {
    "type": "dict",
    "options": {
        "port": {"type": "int", "default": 4318},
        "tls": {"type": "bool"},
        "name": {"type": "str", "required": True},
        "tags": {"type": "list", "elements": "dict", "options": {"key": {"type": "str", "required": True}}},
    },
}


def test_nested_options_are_typed_and_take_their_defaults():
    assert typed(NESTED, {"name": "a", "tls": "no", "tags": [{"key": 5}]}) == {
        "port": 4318,
        "tls": False,
        "name": "a",
        "tags": [{"key": "5"}],
    }
    assert typed(NESTED, {"name": "a", "port": None}) == {"port": 4318, "name": "a"}


def test_nested_problems_name_the_path():
    with pytest.raises(ro.RoleOptionsError) as info:
        typed(NESTED, {"port": "x", "tags": [{}], "name": None})
    assert info.value.problems == [
        "x.port must be a whole number (such as 4318); got 'x'.",
        "x.name is required and has no default, but it is empty (null). Give it a value; in YAML an empty "
        "'name:' is null.",
        "x.tags[0].key is required and has no default, but it is empty (null). Give it a value; in YAML an empty "
        "'key:' is null.",
    ]
    assert refused(NESTED, {"name": "a", "prot": 1}) == "x: prot not known; known: name, port, tags, tls."


def test_a_missing_dict_stays_null_unless_defaults_apply():
    assert typed(NESTED, ...) is None
    applied = dict(NESTED, apply_defaults=True, options={"port": {"type": "int", "default": 1}})
    assert typed(applied, None) == {"port": 1}


# --- null and absent -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, ...])
def test_null_or_absent_takes_the_default_typed(value):
    assert typed({"type": "int", "default": 4318}, value) == 4318
    assert typed({"type": "str", "default": ""}, value) == ""
    assert typed({"type": "list", "elements": "str", "default": ["user_settings"]}, value) == ["user_settings"]


def test_null_without_a_default_stays_null_or_is_refused_when_required():
    assert typed({"type": "bool"}, None) is None
    assert refused({"type": "str", "required": True}, None) == (
        "x is required and has no default, but it is empty (null). Give it a value; in YAML an empty 'x:' is null."
    )


def test_a_default_is_not_shared_between_calls():
    spec = {"type": "dict", "default": {"a": 1}}
    typed(spec, None)["a"] = 2
    assert typed(spec, None) == {"a": 1}


def test_a_default_goes_through_resolve_default():
    spec = {"type": "dict", "default": {"machine.name": "{{ inventory_hostname }}"}}
    seen = []

    def resolve(value):
        seen.append(value)
        return {"machine.name": "host1"}

    assert typed(spec, None, resolve_default=resolve) == {"machine.name": "host1"}
    assert typed(spec, {"a": "b"}, resolve_default=resolve) == {"a": "b"}
    assert seen == [{"machine.name": "{{ inventory_hostname }}"}]


# --- secrets and the whole error -----------------------------------------------------------------


def test_a_secret_is_never_repeated():
    spec = {"type": "int", "no_log": True}
    assert (
        refused(spec, "hunter2")
        == "x must be a whole number (such as 4318); got text (not shown: the option is secret)."
    )
    listed = {"type": "list", "no_log": True}
    assert "hunter2" not in refused(listed, "hunter2")


def test_every_problem_is_reported_at_once():
    spec = {"a": {"type": "bool"}, "b": {"type": "int"}, "c": {"type": "str"}}
    with pytest.raises(ro.RoleOptionsError) as info:
        ro.typed_options(spec, {"a": "maybe", "b": "x", "c": "fine"}, where="demo")
    assert [p.split(" ")[0] for p in info.value.problems] == ["a", "b"]
    assert str(info.value).startswith("Invalid options of the demo role (nothing was changed):\na must be")


def test_names_limits_what_is_read_and_an_unknown_name_is_an_error():
    spec = {"a": {"type": "bool", "default": True}, "b": {"type": "int"}}
    assert ro.typed_options(spec, {"b": "bad"}, names=["a"]) == {"a": True}
    with pytest.raises(ValueError, match="no option c"):
        ro.typed_options(spec, {}, names=["c"])


def test_an_unknown_type_is_an_error_of_the_spec():
    with pytest.raises(ValueError, match="type bytes is not supported"):
        typed({"type": "bytes"}, "1K")


# --- the roles' own specs ------------------------------------------------------------------------


def test_the_issue_values_from_the_command_line():
    opts = ro.role_options(
        "client",
        {
            "client_log_user_prompts": "false",
            "client_log_tool_details": "false",
            "client_telemetry_enabled": "false",
            "client_include_session_id": "no",
            "client_otlp_port": "4318",
            "client_targets": "shell_profiles",
            "client_otlp_endpoint": None,
        },
    )
    assert opts["client_log_user_prompts"] is False and opts["client_log_tool_details"] is False
    assert opts["client_telemetry_enabled"] is False and opts["client_include_session_id"] is False
    assert opts["client_otlp_port"] == 4318
    assert opts["client_targets"] == ["shell_profiles"]  # its description allows one string
    assert opts["client_otlp_endpoint"] == ""
    assert opts["client_otlp_tls"] is None  # no default: the role derives it from the server
    collector = ro.role_options("claude_code.observability.otel_collector", {"otel_collector_store_prompts": "false"})
    assert collector["otel_collector_store_prompts"] is False
    assert collector["otel_collector_otlp_http_port"] == 4318


def test_a_role_without_a_spec_is_an_error():
    with pytest.raises(ValueError, match="not a role of this collection"):
        ro.role_options("no_such_role", {})


def test_the_one_item_sentence_is_in_the_descriptions_that_rely_on_it():
    one_item = sorted(name for name, opt in ro.load_options("client").items() if ro.ONE_ITEM in ro._description(opt))
    assert one_item == ["client_targets", "client_users"]
    assert ro.role_options("client", {"client_users": "anna"})["client_users"] == ["anna"]
    for role in ("otel_collector", "stack"):
        assert not [name for name, opt in ro.load_options(role).items() if ro.ONE_ITEM in ro._description(opt)]


# --- the filter ----------------------------------------------------------------------------------


class HostVars(dict):
    """Like Ansible's hostvars of one host: a mapping whose values are read by key."""


def test_the_filter_reads_another_hosts_options():
    server = HostVars(otel_collector_tls_generate="yes", otel_collector_otlp_http_port="24318")
    opts = flt.role_options(server, "otel_collector", ["otel_collector_tls_generate", "otel_collector_otlp_http_port"])
    assert opts == {"otel_collector_tls_generate": True, "otel_collector_otlp_http_port": 24318}
    assert flt.role_options({}, "otel_collector", ["otel_collector_bearer_token"]) == {
        "otel_collector_bearer_token": ""
    }


def test_the_filter_takes_an_inline_spec_for_a_playbook_switch():
    spec = {"site_clients": {"type": "bool", "default": True}}
    assert flt.role_options({"site_clients": "false"}, spec) == {"site_clients": False}
    assert flt.role_options({}, spec) == {"site_clients": True}
    with pytest.raises(AnsibleFilterError, match="site_clients must be true or false"):
        flt.role_options({"site_clients": "maybe"}, spec)


def test_the_filter_fails_with_the_problems():
    with pytest.raises(AnsibleFilterError) as info:
        flt.role_options({"otel_collector_otlp_http_port": "http"}, "otel_collector")
    assert "otel_collector_otlp_http_port must be a whole number (such as 4318); got 'http'." in str(info.value)
    with pytest.raises(AnsibleFilterError, match="names must be a list"):
        flt.role_options({}, "otel_collector", "otel_collector_debug")
    with pytest.raises(AnsibleFilterError, match="expects the variables as a mapping"):
        flt.role_options("x", "otel_collector")


# --- the action's helpers ------------------------------------------------------------------------


def test_the_action_censors_a_result_that_holds_a_secret():
    options = {
        "token": {"type": "str", "no_log": True},
        "plain": {"type": "str"},
        "nested": {"type": "dict", "options": {"password": {"type": "str", "no_log": True}}},
    }
    assert not action._secret_set(options, {"token": "", "plain": "x", "nested": None})
    assert action._secret_set(options, {"token": "t"})
    assert action._secret_set(options, {"token": "", "nested": {"password": "p"}})


def test_the_action_templates_defaults_as_trusted():
    value = action._trusted({"machine.name": "{{ inventory_hostname }}", "n": 1, "l": ["{{ x }}"]})
    assert value == {"machine.name": "{{ inventory_hostname }}", "n": 1, "l": ["{{ x }}"]}
    assert is_trusted_as_template(value["machine.name"]) and is_trusted_as_template(value["l"][0])

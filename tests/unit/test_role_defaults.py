"""One source per default: every option's default in a role's meta/argument_specs.yml (each entry
point) equals the role's defaults/main.yml, so what ansible-doc tells, what the role_options
action falls back to for a null, and what the role uses when nothing is set cannot drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
ABSENT = object()

# Options whose default is worked out from other variables, so the spec has none to state
# (each is documented in its description). Nothing else may differ.
DERIVED = {
    # On when Prometheus is published on a loopback address only (docs/backup.md).
    ("prometheus", "prometheus_admin_api"),
}

pytestmark = pytest.mark.unit


def _specs(role: str) -> dict:
    data = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return data["argument_specs"]


def _defaults(role: str) -> dict:
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def drift(specs: dict, defaults: dict, derived: set) -> list[str]:
    """Where the spec and defaults/main.yml disagree; empty when they agree everywhere."""
    problems = []
    options = {}
    for entry, spec in specs.items():
        for name, option in ((spec or {}).get("options") or {}).items():
            options.setdefault(name, []).append((entry, option or {}))
    for name, entries in sorted(options.items()):
        in_defaults = defaults.get(name, ABSENT)
        for entry, option in entries:
            stated = option.get("default", ABSENT)
            if option.get("required") and stated is ABSENT and in_defaults is ABSENT:
                continue  # a required option (such as the stack's `component`) has no default by design
            # A null on either side is "no default": the role derives the value.
            stated = None if stated is ABSENT else stated
            given = None if in_defaults is ABSENT else in_defaults
            if stated != given and name not in derived:
                problems.append(f"{name} ({entry}): argument spec {stated!r}, defaults/main.yml {given!r}")
    for name in sorted(set(defaults) - set(options)):
        problems.append(f"{name}: in defaults/main.yml but no entry point of the argument spec has it")
    return problems


def test_every_role_with_a_spec_is_checked():
    assert {"client", "otel_collector", "stack", "prometheus"} <= set(ROLES) and len(ROLES) >= 15


@pytest.mark.parametrize("role", ROLES)
def test_the_spec_and_defaults_main_state_the_same_defaults(role):
    derived = {name for owner, name in DERIVED if owner == role}
    assert drift(_specs(role), _defaults(role), derived) == []


def test_every_derived_default_is_one_the_spec_leaves_out():
    for role, name in DERIVED:
        options = _specs(role)["main"]["options"]
        assert name in options and "default" not in options[name], (role, name)


def test_the_check_finds_drift():
    specs = {
        "main": {
            "options": {
                "a": {"type": "int", "default": 4318},
                "b": {"type": "bool"},
                "c": {"type": "str", "default": ""},
                "d": {"type": "bool", "default": True},
            }
        },
        "component": {"options": {"a": {"type": "int", "default": 4317}, "e": {"type": "dict", "required": True}}},
    }
    defaults = {"a": 4318, "b": None, "d": "{{ x }}", "f": 1}
    assert drift(specs, defaults, set()) == [
        "a (component): argument spec 4317, defaults/main.yml 4318",
        "c (main): argument spec '', defaults/main.yml None",
        "d (main): argument spec True, defaults/main.yml '{{ x }}'",
        "f: in defaults/main.yml but no entry point of the argument spec has it",
    ]

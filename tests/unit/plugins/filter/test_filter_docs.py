"""Every filter is documented for ansible-doc: a sidecar plugins/filter/<name>.yml per filter whose
options are the function's own parameters and whose examples use it by its FQCN."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

FILTER_DIR = ROOT / "plugins" / "filter"
COLLECTION = "claude_code.observability"

pytestmark = pytest.mark.unit


def _filters() -> dict:
    """{filter name: function} of every FilterModule in plugins/filter."""
    found = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module("ansible_collections.claude_code.observability.plugins.filter." + path.stem)
        for name, function in module.FilterModule().filters().items():
            assert name not in found, "filter %s is defined twice" % name
            found[name] = function
    return found


FILTERS = _filters()


def _positional(doc: dict) -> list[str]:
    value = doc.get("positional") or []
    if isinstance(value, str):
        value = value.split(",")
    return [part.strip() for part in value if part.strip()]


def doc_problems(name: str, function, doc_dir: Path) -> list[str]:
    """What is wrong with the documentation of one filter; empty when nothing is."""
    path = doc_dir / ("%s.yml" % name)
    if not path.is_file():
        return ["%s has no documentation: write %s" % (name, path.relative_to(doc_dir.parents[1]))]
    try:
        sidecar = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return ["%s is not YAML: %s" % (path.name, exc)]
    if not isinstance(sidecar, dict):
        return ["%s must be a mapping with DOCUMENTATION, EXAMPLES and RETURN" % path.name]
    problems = []
    doc = sidecar.get("DOCUMENTATION") or {}
    if doc.get("name") != name:
        problems.append("%s: DOCUMENTATION.name is %r, not %r" % (path.name, doc.get("name"), name))
    for key in ("short_description", "description", "version_added"):
        if not doc.get(key):
            problems.append("%s: DOCUMENTATION.%s is missing" % (path.name, key))

    params = list(inspect.signature(function).parameters.values())
    keywords = {p.name: p for p in params[1:]}
    options = doc.get("options") or {}
    if not (options.get("_input") or {}).get("required"):
        problems.append("%s: options._input (the filtered value) must be there, required: true" % path.name)
    documented = set(options) - {"_input"}
    if documented != set(keywords):
        problems.append(
            "%s: options %s, but %s takes %s"
            % (path.name, sorted(documented), function.__name__, sorted(keywords) or "nothing but its input")
        )
    for key in sorted(documented & set(keywords)):
        option, param = options[key] or {}, keywords[key]
        has_default = param.default is not inspect.Parameter.empty
        if bool(option.get("required")) == has_default:
            problems.append(
                "%s: option %s is %s, but the parameter %s"
                % (
                    path.name,
                    key,
                    "required" if option.get("required") else "optional",
                    "has a default" if has_default else "has none",
                )
            )
        if has_default and "default" in option and option["default"] != param.default:
            problems.append(
                "%s: option %s says default %r, the function's is %r"
                % (path.name, key, option["default"], param.default)
            )
    positional = ["_input"] + [p.name for p in params[1:] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if _positional(doc) != positional:
        problems.append("%s: positional is %r, the function's order is %r" % (path.name, _positional(doc), positional))

    examples = sidecar.get("EXAMPLES")
    fqcn = "%s.%s" % (COLLECTION, name)
    if not isinstance(examples, str) or not re.search(r"\b%s\b" % re.escape(fqcn), examples):
        problems.append("%s: EXAMPLES never use %s" % (path.name, fqcn))
    else:
        try:
            tasks = yaml.safe_load(examples)
        except yaml.YAMLError as exc:
            tasks = None
            problems.append("%s: EXAMPLES are not YAML: %s" % (path.name, exc))
        if tasks is not None and not (
            isinstance(tasks, list) and all(isinstance(t, dict) and t.get("name") for t in tasks)
        ):
            problems.append("%s: EXAMPLES must be a list of named tasks" % path.name)

    if "_value" not in (sidecar.get("RETURN") or {}):
        problems.append("%s: RETURN._value (what the filter returns) is missing" % path.name)
    return problems


def test_the_filters_are_found():
    # A glob or an import gone wrong must not make every check below pass on nothing.
    assert len(FILTERS) >= 50
    assert "compose_project" in FILTERS and "stack_placement" in FILTERS


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_a_filter_is_documented_as_it_is_called(name):
    assert doc_problems(name, FILTERS[name], FILTER_DIR) == []


def test_every_sidecar_documents_a_filter():
    # Documentation left behind by a renamed or removed filter would still show in ansible-doc.
    orphans = sorted(p.name for p in FILTER_DIR.glob("*.yml") if p.stem not in FILTERS)
    assert orphans == []


def _new_filter(text, count=1, sep=","):
    """A filter the collection does not have, to show the check finds what is missing."""
    return text


def test_the_check_finds_a_filter_without_documentation_or_with_other_options(tmp_path):
    doc_dir = tmp_path / "plugins" / "filter"
    doc_dir.mkdir(parents=True)
    assert doc_problems("new_filter", _new_filter, doc_dir) == [
        "new_filter has no documentation: write plugins/filter/new_filter.yml"
    ]

    (doc_dir / "new_filter.yml").write_text(
        yaml.safe_dump(
            {
                "DOCUMENTATION": {
                    "name": "new_filter",
                    "version_added": "0.1.0",
                    "short_description": "A filter",
                    "description": ["A filter."],
                    "positional": "_input, count",
                    "options": {
                        "_input": {"description": "Text.", "type": "str", "required": True},
                        "count": {"description": "How many.", "type": "int", "required": True},
                        "separator": {"description": "What.", "type": "str", "default": ","},
                    },
                },
                "EXAMPLES": "- name: Use it\n  ansible.builtin.debug:\n    msg: \"{{ 'a' | other_filter }}\"\n",
                "RETURN": {},
            }
        )
    )
    problems = doc_problems("new_filter", _new_filter, doc_dir)
    assert problems == [
        "new_filter.yml: options ['count', 'separator'], but _new_filter takes ['count', 'sep']",
        "new_filter.yml: option count is required, but the parameter has a default",
        "new_filter.yml: positional is ['_input', 'count'], the function's order is ['_input', 'count', 'sep']",
        "new_filter.yml: EXAMPLES never use claude_code.observability.new_filter",
        "new_filter.yml: RETURN._value (what the filter returns) is missing",
    ]

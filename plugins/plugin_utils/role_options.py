# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A role's options, typed once from its meta/argument_specs.yml.

A value from ``-e name=value`` is text: ``false`` there is the string 'false',
which a template treats as true. Ansible's own check of a role's argument spec
only tells whether a value could be converted; the role then reads the value
as it was given. ``role_options`` converts each option of a role to the type
its spec declares, once, and everything the role renders reads the result
(the ``role_options`` action sets it as the fact ``<role>__opts``; the
``role_options`` filter reads another host's options the same way).

The rules, for each option of the ``main`` entry point:

* absent or null: the spec's ``default``; an option that is ``required`` and
  has no default is refused by name; otherwise it stays null (the role derives
  a value, as its spec says);
* ``bool``: what Ansible's ``boolean()`` accepts - true/false, yes/no, on/off,
  1/0, in any case; nothing else;
* ``int``: a whole number, also as text ("4318"); never a boolean;
* ``float``: a number, also as text; never a boolean;
* ``str`` and ``path``: text; a number becomes its text; a boolean, a list or a
  dict is refused (YAML reads an unquoted yes/no/on/off as a boolean). ``path``
  is not expanded: it names a file on the managed host;
* ``list``: a list (each element converted to ``elements``); a bare string is
  refused, except for an option whose description says, word for word,
  ``A single string is taken as a one-item list.`` (ONE_ITEM);
* ``dict``: a dict, or text Ansible's ``check_type_dict`` reads (JSON, or
  ``k=v k2=v2``); with ``options`` each key is checked as an option in turn,
  and a key the spec does not know is refused;
* ``raw``: as given;
* ``choices``: checked after the conversion (for a list, each element).

Every problem is collected; ``RoleOptionsError`` lists them all, each naming
the variable, what it got and what it expects. A value of a ``no_log`` option
is never repeated.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
from collections.abc import Mapping

from ansible.module_utils.common.validation import (
    check_type_bool,
    check_type_dict,
    check_type_float,
    check_type_int,
)
from ansible_collections.claude_code.observability.plugins.plugin_utils.components import plain

try:
    import yaml

    _LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
except ImportError:  # pragma: no cover - Ansible always ships PyYAML
    yaml = None

ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles"))
COLLECTION = "claude_code.observability."
# The sentence that lets a list option take one string as a one-item list. It is
# part of the option's description, so ansible-doc tells users exactly that.
ONE_ITEM = "A single string is taken as a one-item list."
BOOLEANS = "true or false (also yes/no, on/off or 1/0, in any case)"

_SPECS = {}


class RoleOptionsError(ValueError):
    """Options that cannot be used; ``problems`` holds one message per variable."""

    def __init__(self, role, problems):
        self.role = role
        self.problems = list(problems)
        super(RoleOptionsError, self).__init__(
            "Invalid options of the %s role (nothing was changed):\n%s" % (role, "\n".join(self.problems))
        )


def role_name(role):
    """'client' for 'client' and for 'claude_code.observability.client'."""
    role = "%s" % role
    return role[len(COLLECTION) :] if role.startswith(COLLECTION) else role


def spec_path(role):
    return os.path.join(ROLES_DIR, role_name(role), "meta", "argument_specs.yml")


def load_options(role, entry_point="main"):
    """The options of a role's entry point, read from its meta/argument_specs.yml (kept
    until the file changes)."""
    path = spec_path(role)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        raise ValueError(
            "role_options: %s is not a role of this collection with an argument spec (no %s)" % (role, path)
        ) from None
    cached = _SPECS.get((path, entry_point))
    if cached and cached[0] == mtime:
        return cached[1]
    with open(path, "rb") as handle:
        data = yaml.load(handle, Loader=_LOADER) or {}
    entry = (data.get("argument_specs") or {}).get(entry_point)
    if not isinstance(entry, Mapping):
        raise ValueError("role_options: %s has no entry point %s in %s" % (role, entry_point, path))
    options = entry.get("options") or {}
    _SPECS[(path, entry_point)] = (mtime, options)
    return options


def role_options(role, variables, names=None, resolve_default=None):
    """The typed options of a role: see the module's documentation.

    variables: a mapping of variable name to value (task vars, a host's hostvars, a dict);
      only the role's options are read from it.
    names: read only these options (default: every option of the spec).
    resolve_default: called with a spec default before it is used (the action plugin
      templates defaults such as "{{ inventory_hostname }}" with it).
    """
    return typed_options(load_options(role), variables, names, role_name(role), resolve_default)


def typed_options(options, variables, names=None, where="", resolve_default=None):
    """The same as role_options, for a spec given as data (argument-spec ``options``)."""
    if names is None:
        names = list(options)
    else:
        unknown = [name for name in names if name not in options]
        if unknown:
            raise ValueError("role_options: %s has no option %s" % (where or "the spec", ", ".join(unknown)))
    problems = []
    result = {}
    for name in names:
        value = variables[name] if name in variables else None
        converted = _option(name, name, plain(value), options[name] or {}, problems, resolve_default)
        if converted is not _BAD:
            result[name] = converted
    if problems:
        raise RoleOptionsError(where or "given", problems)
    return result


class _Bad(object):
    def __repr__(self):
        return "<invalid>"


_BAD = _Bad()


def _option(name, path, value, spec, problems, resolve_default):
    """The value of one option (or suboption) at `path`, converted; _BAD after a problem."""
    if value is None:
        default = spec.get("default")
        if default is not None:
            value = copy.deepcopy(default)
            if resolve_default is not None:
                value = plain(resolve_default(value))
        elif spec.get("required"):
            problems.append(
                "%s is required and has no default, but it is empty (null). Give it a value; in YAML an empty "
                "'%s:' is null." % (path, name)
            )
            return _BAD
        elif spec.get("type") == "dict" and spec.get("options") and spec.get("apply_defaults"):
            value = {}
        else:
            return None
    return _convert(name, path, value, spec, problems, resolve_default)


def _convert(name, path, value, spec, problems, resolve_default):
    wanted = spec.get("type") or "str"
    secret = bool(spec.get("no_log"))
    if wanted == "list":
        return _list(name, path, value, spec, problems, resolve_default)
    if wanted == "dict":
        value = _dict(name, path, value, secret, problems)
        if value is not _BAD and spec.get("options"):
            value = _suboptions(path, value, spec["options"], problems, resolve_default)
        return value
    value = _scalar(path, value, wanted, secret, problems)
    if value is _BAD:
        return _BAD
    return _choice(path, value, spec.get("choices"), secret, problems)


def _scalar(path, value, wanted, secret, problems):
    shown = _shown(value, secret)
    if wanted == "bool":
        try:
            return check_type_bool(value)
        except (TypeError, ValueError):
            problems.append("%s must be %s; got %s." % (path, BOOLEANS, shown))
            return _BAD
    if wanted in ("int", "float"):
        if not isinstance(value, bool):
            try:
                return check_type_int(value) if wanted == "int" else check_type_float(value)
            except (TypeError, ValueError):
                pass
        problems.append(
            "%s must be %s; got %s." % (path, "a whole number (such as 4318)" if wanted == "int" else "a number", shown)
        )
        return _BAD
    if wanted in ("str", "path"):
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return "%s" % value
        hint = (
            " YAML reads an unquoted yes/no/on/off/true/false as a boolean: put the text in quotes."
            if isinstance(value, bool)
            else ""
        )
        problems.append("%s must be text; got %s.%s" % (path, shown, hint))
        return _BAD
    if wanted == "raw":
        return value
    raise ValueError("role_options: %s: type %s is not supported" % (path, wanted))


def _list(name, path, value, spec, problems, resolve_default):
    secret = bool(spec.get("no_log"))
    if isinstance(value, str) and ONE_ITEM in _description(spec):
        value = [value]
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        if isinstance(value, str):
            example = "" if secret else value
            problems.append(
                "%s must be a list; got the string %s. Give a list: in YAML %s: [%s], on the command line "
                '-e \'{"%s": ["%s"]}\'.' % (path, _shown(value, secret), name, example, name, example)
            )
        else:
            problems.append("%s must be a list; got %s." % (path, _shown(value, secret)))
        return _BAD
    element = {"type": spec.get("elements") or "raw", "options": spec.get("options"), "no_log": secret}
    out = []
    for index, item in enumerate(value):
        item_path = "%s[%d]" % (path, index)
        if item is None and element["type"] != "raw":
            problems.append("%s must not be empty (null)." % item_path)
            out.append(_BAD)
            continue
        out.append(_convert(name, item_path, item, element, problems, resolve_default))
    if any(item is _BAD for item in out):
        return _BAD
    choices = spec.get("choices")
    if choices is not None:
        wrong = [item for item in out if item not in choices]
        if wrong:
            problems.append(
                "%s may only hold %s; got %s."
                % (path, ", ".join("%s" % c for c in choices), ", ".join(_shown(w, secret) for w in wrong))
            )
            return _BAD
    return out


def _dict(name, path, value, secret, problems):
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            converted = check_type_dict(value)
        except (TypeError, ValueError):
            converted = None
        if isinstance(converted, dict):
            return plain(converted)
    problems.append(
        "%s must be a dict (key: value); got %s. In YAML give it as a mapping, on the command line as JSON "
        '(-e \'{"%s": {"key": "value"}}\').' % (path, _shown(value, secret), name)
    )
    return _BAD


def _suboptions(path, value, options, problems, resolve_default):
    unknown = sorted("%s" % key for key in value if key not in options)
    if unknown:
        problems.append("%s: %s not known; known: %s." % (path, ", ".join(unknown), ", ".join(sorted(options))))
        return _BAD
    out = {}
    bad = False
    for key, spec in options.items():
        converted = _option(key, "%s.%s" % (path, key), value.get(key), spec or {}, problems, resolve_default)
        if converted is _BAD:
            bad = True
        elif key in value or converted is not None:
            out[key] = converted
    return _BAD if bad else out


def _choice(path, value, choices, secret, problems):
    if choices is None or value in choices:
        return value
    problems.append(
        "%s must be one of %s; got %s." % (path, ", ".join("%s" % c for c in choices), _shown(value, secret))
    )
    return _BAD


def _description(spec):
    text = spec.get("description") or ""
    return " ".join(text) if isinstance(text, list) else "%s" % text


def _shown(value, secret=False):
    """How a value is told in a message: its type is clear, a secret's content is not shown."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, (int, float)):
        kind = "a number"
    elif isinstance(value, str):
        kind = "text"
    elif isinstance(value, Mapping):
        kind = "a dict"
    elif isinstance(value, (list, tuple)):
        kind = "a list"
    else:
        kind = type(value).__name__
    if secret:
        return "%s (not shown: the option is secret)" % kind
    if isinstance(value, bool):
        return "%s (a boolean)" % ("true" if value else "false")
    if isinstance(value, str):
        return "%r" % (value,) if value else "'' (empty text)"
    if isinstance(value, Mapping):
        return "a dict with the keys %s" % ", ".join(sorted("%s" % k for k in value)) if value else "an empty dict"
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        text = "%r" % (value,)
    if len(text) > 120:
        text = text[:117] + "..."
    return "%s (%s)" % (text, kind)

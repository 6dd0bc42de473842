"""Caches of work the suite's Ansible runs repeat on the same sources; the test venv loads this from a
.pth file. Both are keyed by a hash of the source, so what runs is exactly what that source gives:
only the time changes.

- Compiled code of sources imported from zip archives. Ansible sends each module to its interpreter
  as a zip of the module and its module_utils, and a zip holds no bytecode: every module run compiles
  all of those sources again (about 0.15 s of a stat module's 0.4 s). Code read back gets the file
  name of the archive it was imported from, so tracebacks name the real path.
- The imports Ansible finds in each module_utils source when it builds a module's zip. It parses
  every source the module needs (about 60 for most modules, 0.2-0.5 s) the first time a run uses
  that module, in every run; the suite makes hundreds of runs.

CCO_PYCODE_CACHE=0 turns both off; they live in the venv (`make clean` removes them) unless
CCO_PYCODE_CACHE_DIR names another directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import os
import sys
import zipimport

_DIR = os.path.join(
    os.environ.get("CCO_PYCODE_CACHE_DIR") or os.path.join(sys.prefix, "pycode-cache"),
    importlib.util.MAGIC_NUMBER.hex(),
)
_compile_source = zipimport._compile_source


def _write(path: str, data: bytes) -> None:
    """Readers see the whole file or none; a cache that cannot be written is only slower."""
    tmp = f"{path}.{os.getpid()}"
    try:
        os.makedirs(_DIR, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


def _named(code, filename: str):
    consts = tuple(_named(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _cached_compile_source(pathname: str, source: bytes):
    path = os.path.join(_DIR, hashlib.sha256(source).hexdigest())
    try:
        with open(path, "rb") as f:
            code = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        code = _compile_source(pathname, source)
        _write(path, marshal.dumps(code))
        return code
    return code if code.co_filename == pathname else _named(code, pathname)


class _Source:
    """What the module builder parses, parsed only if something reads the tree itself."""

    def __init__(self, compile_ast, name: str, source) -> None:
        self.name, self.source, self._compile_ast, self._tree = name, source, compile_ast, None
        raw = source if isinstance(source, bytes) else source.encode("utf-8", "surrogateescape")
        self.digest = hashlib.sha256(raw).hexdigest()

    @property
    def tree(self):
        if self._tree is None:
            self._tree = self._compile_ast(self.name, self.source)
        return self._tree

    @property
    def body(self):
        return self.tree.body


def _patch_module_builder(module_common) -> None:
    """Keep what ModuleDepFinder finds in a source (the imports the zip needs), keyed by the source.
    The class stays the class (its __init__ names it); only what __init__ is given changes."""
    finder_init, compile_ast = module_common.ModuleDepFinder.__init__, module_common._compile_module_ast
    # What the finder finds depends on its own code too: another ansible-core in the same venv
    # (an upgrade in place) must not read what this one wrote.
    with open(module_common.__file__, "rb") as f:
        finder = hashlib.sha256(f.read()).hexdigest()

    def lazy_compile_ast(module_name, source_code):
        return _Source(compile_ast, module_name, source_code)

    def init(self, module_fqn, tree, is_pkg_init=False, *args, **kwargs):
        if not isinstance(tree, _Source):
            return finder_init(self, module_fqn, tree, is_pkg_init, *args, **kwargs)
        key = hashlib.sha256(f"{finder}\0{module_fqn}\0{is_pkg_init}\0{tree.digest}".encode()).hexdigest()
        path = os.path.join(_DIR, f"deps-{key}")
        try:
            with open(path, "rb") as f:
                found = json.load(f)
            self.module_fqn, self.submodules = module_fqn, {tuple(m) for m in found["submodules"]}
            self.optional_imports = {tuple(m) for m in found["optional"]}
        except (OSError, ValueError, KeyError, TypeError):
            finder_init(self, module_fqn, tree.tree, is_pkg_init, *args, **kwargs)
            found = {"submodules": sorted(self.submodules), "optional": sorted(self.optional_imports)}
            _write(path, json.dumps(found).encode())
        return None

    module_common._compile_module_ast = lazy_compile_ast
    module_common.ModuleDepFinder.__init__ = init


class _PatchOnImport:
    """Patches the module builder when a controller imports it (modules never do). A finder is any
    object with find_spec: subclassing importlib.abc.MetaPathFinder would import importlib.abc and
    importlib.resources into every Python process of the venv, about 40 ms each."""

    NAME = "ansible.executor.module_common"

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.NAME:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            # Only the ansible-core these caches were written against: others build as they always do.
            if hasattr(module, "ModuleDepFinder") and hasattr(module, "_compile_module_ast"):
                _patch_module_builder(module)

        spec.loader.exec_module = exec_and_patch
        return spec


if os.environ.get("CCO_PYCODE_CACHE", "1") != "0":
    zipimport._compile_source = _cached_compile_source
    sys.meta_path.insert(0, _PatchOnImport())

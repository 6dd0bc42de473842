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
- Compiled code of Jinja templates. Every task runs in a new worker process, which compiles each
  template and conditional it meets again; that was about a third of the workers' CPU. The key holds
  the template (or expression tree), every environment setting the lexer, parser and code generator
  read, and the sources of those; an entry also records how each filter and test it names was
  passed its arguments when it was compiled, and is compiled again if that changed.

CCO_PYCODE_CACHE=0 turns all three off; they live in the venv (`make clean` removes them) unless
CCO_PYCODE_CACHE_DIR names another directory.
"""

from __future__ import annotations

import os
import sys

# First: a python3 about to run a module hands it to the suite's fork server (whose forks have the
# caches below in place) and ends here, before importing what only the caches need.
if os.environ.get("CCO_MODULE_FORKSERVER"):
    try:
        import cco_module_forkserver
    except ImportError:
        pass
    else:
        cco_module_forkserver.run_here()

import hashlib  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import marshal  # noqa: E402
import zipimport  # noqa: E402

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


def _tree_key(node) -> tuple:
    """An expression tree, with the line numbers the generated code keeps for tracebacks."""
    if isinstance(node, list):
        return ("list", tuple(_tree_key(n) for n in node))
    fields = getattr(node, "fields", None)
    if fields is None:
        return ("value", type(node).__qualname__, repr(node))
    return (
        type(node).__qualname__,
        getattr(node, "lineno", None),
        tuple(_tree_key(getattr(node, f, None)) for f in fields),
    )


def _patch_jinja(jinja_bits) -> None:
    """Keep the code AnsibleEnvironment.compile makes of a template, keyed by all it reads."""
    # Here, not at the top: only processes that template import Jinja (modules never do).
    import jinja2  # noqa: PLC0415
    from jinja2 import nodes  # noqa: PLC0415
    from jinja2.utils import _PassArg, internalcode  # noqa: PLC0415

    env_class, compile_ = jinja_bits.AnsibleEnvironment, jinja_bits.AnsibleEnvironment.compile
    generator = hashlib.sha256(jinja2.__version__.encode())
    parts = ("compiler", "lexer", "parser", "nativetypes")
    for module in (jinja_bits, *(importlib.import_module(f"jinja2.{part}") for part in parts)):
        with open(module.__file__, "rb") as f:
            generator.update(f.read())
    generator = generator.hexdigest()

    def settings(env) -> tuple:
        context = jinja_bits._TemplateCompileContext.current(optional=True)
        return (
            generator,
            tuple(repr(getattr(env, name)) for name in jinja_bits._TEMPLATE_OVERRIDE_FIELD_NAMES),
            env.optimized,
            env.is_async,
            env.sandboxed,
            repr(env.autoescape),
            tuple(sorted(env.intercepted_binops)),
            tuple(sorted(env.intercepted_unops)),
            tuple(sorted(env.extensions)),
            env.code_generator_class.__qualname__,
            getattr(env.finalize, "__qualname__", repr(env.finalize)),
            repr(_PassArg.from_obj(env.finalize)) if env.finalize else None,
            jinja_bits._TemplateConfig.allow_embedded_templates,
            bool(context and context.escape_backslashes),
        )

    def passed(env, kind: str, name: str) -> str:
        func = (env.filters if kind == "filter" else env.tests).get(name)
        return "missing" if func is None else repr(_PassArg.from_obj(func))

    @internalcode
    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        # Ansible's template debugging writes the generated source out as it compiles: no cache then.
        if raw or self._debuggable_template_source or not isinstance(source, (str, nodes.Template)):
            return compile_(self, source, name, filename, raw, defer_init)
        what = source if isinstance(source, str) else _tree_key(source)
        key = hashlib.sha256(repr((settings(self), name, filename, defer_init, what)).encode()).hexdigest()
        path = os.path.join(_DIR, f"jinja-{key}")
        try:
            with open(path, "rb") as f:
                uses, code = marshal.load(f)
            if all(passed(self, kind, used) == how for kind, used, how in uses):
                return code
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile_(self, source, name, filename, raw, defer_init)
        tree = self._parse(source, name, filename) if isinstance(source, str) else source
        names = {("filter", n.name) for n in tree.find_all(nodes.Filter)}
        names |= {("test", n.name) for n in tree.find_all(nodes.Test)}
        uses = tuple((kind, used, passed(self, kind, used)) for kind, used in sorted(names))
        try:
            _write(path, marshal.dumps((uses, code)))
        except ValueError:  # a constant marshal cannot write: compiled every time, as without the cache
            pass
        return code

    env_class.compile = compile


class _PatchOnImport:
    """Patches the module builder and Jinja's compile when a controller imports them (modules never
    do). A finder is any object with find_spec: subclassing importlib.abc.MetaPathFinder would import
    importlib.abc and importlib.resources into every Python process of the venv, about 40 ms each."""

    def __init__(self) -> None:
        # Only the ansible-core these caches were written against: others run as they always do.
        self.patches = {
            "ansible.executor.module_common": (("ModuleDepFinder", "_compile_module_ast"), _patch_module_builder),
            "ansible._internal._templating._jinja_bits": (
                ("AnsibleEnvironment", "_TemplateCompileContext", "_TEMPLATE_OVERRIDE_FIELD_NAMES", "_TemplateConfig"),
                _patch_jinja,
            ),
        }

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.patches:
            return None
        needs, patch = self.patches.pop(fullname)
        if not self.patches:
            sys.meta_path.remove(self)
        # The real finders, without this one.
        spec = next(
            (s for f in sys.meta_path if f is not self and (s := f.find_spec(fullname, path, target)) is not None), None
        )
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            if all(hasattr(module, name) for name in needs):
                patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


if os.environ.get("CCO_PYCODE_CACHE", "1") != "0":
    zipimport._compile_source = _cached_compile_source
    sys.meta_path.insert(0, _PatchOnImport())

"""The test venv's compiled-code cache for zip imports (tests/testbed/pycode_cache.py): the code that
runs is what compiling the source gives, named after the archive it came from; a changed source or a
damaged cache entry is compiled again."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import traceback
import types
import zipfile
import zipimport
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """The cache module loaded on its own (not patched in), writing under tmp_path, with its compiles counted."""
    monkeypatch.setenv("CCO_PYCODE_CACHE", "0")
    spec = importlib.util.spec_from_file_location("pycode_cache_under_test", ROOT / "tests/testbed/pycode_cache.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compiled = []

    def counting(pathname, source):
        compiled.append(pathname)
        return compile(source.replace(b"\r\n", b"\n"), pathname, "exec", dont_inherit=True)

    monkeypatch.setattr(module, "_compile_source", counting)
    monkeypatch.setattr(module, "_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(zipimport, "_compile_source", module._cached_compile_source)
    module.compiled = compiled
    return module


def _archive(path: Path, source: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("zmod.py", source)
    return path


def _load(archive: Path):
    spec = zipimport.zipimporter(str(archive)).find_spec("zmod")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = "def where():\n    def inner():\n        raise RuntimeError('from the zip')\n    inner()\n\nVALUE = 41 + 1\n"


def test_a_second_archive_with_the_same_source_is_not_compiled_again(cache, tmp_path):
    first = _load(_archive(tmp_path / "a.zip", SOURCE))
    second = _load(_archive(tmp_path / "b.zip", SOURCE))
    assert first.VALUE == second.VALUE == 42
    assert cache.compiled == [str(tmp_path / "a.zip" / "zmod.py")]
    # The cached code is named after the archive it was imported from, nested functions too.
    with pytest.raises(RuntimeError) as raised:
        second.where()
    files = [frame.filename for frame in traceback.extract_tb(raised.value.__traceback__)][-2:]
    assert files == [str(tmp_path / "b.zip" / "zmod.py")] * 2


def test_a_changed_source_is_compiled_again(cache, tmp_path):
    assert _load(_archive(tmp_path / "a.zip", SOURCE)).VALUE == 42
    changed = _load(_archive(tmp_path / "b.zip", SOURCE.replace("41 + 1", "41 + 2")))
    assert changed.VALUE == 43
    assert len(cache.compiled) == 2


def test_a_damaged_entry_is_compiled_again_and_replaced(cache, tmp_path):
    _load(_archive(tmp_path / "a.zip", SOURCE))
    (entry,) = Path(cache._DIR).iterdir()
    entry.write_bytes(entry.read_bytes()[:10])
    assert _load(_archive(tmp_path / "b.zip", SOURCE)).VALUE == 42
    assert _load(_archive(tmp_path / "c.zip", SOURCE)).VALUE == 42
    assert len(cache.compiled) == 2
    assert [p.name for p in Path(cache._DIR).iterdir()] == [entry.name]


def test_an_unwritable_cache_still_imports(cache, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(cache, "_DIR", str(tmp_path / "file" / "cache"))
    assert _load(_archive(tmp_path / "a.zip", SOURCE)).VALUE == 42
    assert _load(_archive(tmp_path / "b.zip", SOURCE)).VALUE == 42
    # Nothing could be kept: each import compiles its source (zipimport asks twice, for the
    # module's file name and for its code), and nothing was left half-written.
    assert {Path(p).parent.name for p in cache.compiled} == {"a.zip", "b.zip"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip", "file"]


BUILD = r"""
import base64, collections, hashlib, io, json, os, shutil, sys, zipfile
import importlib.util
spec = importlib.util.spec_from_file_location("pycode_cache_under_test", sys.argv[1])
pc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pc)
from ansible import constants as C
from ansible.executor import module_common as mc
from ansible.plugins.loader import init_plugin_loader, module_loader
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
init_plugin_loader([sys.argv[3]])
calls = collections.Counter()
parse = mc._compile_module_ast
def counting(module_name, source_code):
    calls[module_name] += 1
    return parse(module_name, source_code)
mc._compile_module_ast = counting
if sys.argv[2] != "-":
    pc._DIR = sys.argv[2]
    pc._patch_module_builder(mc)
out = {}
for name in sys.argv[4:]:
    builds = []
    for _ in range(2):
        calls.clear()
        shutil.rmtree(os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache"), ignore_errors=True)
        path = module_loader.find_plugin_with_context(name).plugin_resolved_path
        mc.modify_module(module_name=name, module_path=path, module_args={}, templar=Templar(loader=DataLoader()),
                         task_vars={"ansible_python_interpreter": sys.executable})
        where = os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache")
        (cached,) = [n for n in os.listdir(where) if not n.endswith(".lock")]
        zip_data = base64.b64decode(mc._CachedModule.load(os.path.join(where, cached)).zip_data)
        with zipfile.ZipFile(io.BytesIO(zip_data)) as zf:
            entries = {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist()}
        builds.append({"entries": entries, "parsed": sum(calls.values())})
    out[name] = builds
print(json.dumps(out))
"""

MODULES = ("ansible.builtin.stat", "claude_code.observability.project_files", "community.docker.docker_compose_v2")


def _builds(cache_dir: str) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            BUILD,
            str(ROOT / "tests/testbed/pycode_cache.py"),
            cache_dir,
            str(ROOT / "collections"),
            *MODULES,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "CCO_PYCODE_CACHE": "0"},  # an installed copy stays out of the way
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_module_zips_are_the_same_with_the_builders_cache(tmp_path):
    """The zip Ansible builds for a module holds the same files with the cache as without it, cold
    and warm; warm (a later run), the builder parses no source."""
    plain = _builds("-")
    cold = _builds(str(tmp_path / "cache"))
    warm = _builds(str(tmp_path / "cache"))
    for name in MODULES:
        reference = plain[name][0]["entries"]
        assert len(reference) > 20 and any(n.endswith("module_utils/basic.py") for n in reference), name
        assert plain[name][0]["parsed"] > 20, name
        assert [b["entries"] for b in cold[name] + warm[name]] == [reference] * 4, name
        # Cold, a module parses what the modules built before it did not (the first one, everything).
        assert 0 < cold[name][0]["parsed"] <= plain[name][0]["parsed"] and warm[name][0]["parsed"] == 0, name
    assert cold[MODULES[0]][0]["parsed"] == plain[MODULES[0]][0]["parsed"]


def _fake_builder(tmp_path: Path, finder_source: str):
    """A module builder whose finder records what it parses; its own source is finder_source."""
    path = tmp_path / f"module_common_{abs(hash(finder_source))}.py"
    path.write_text(finder_source)
    builder = types.ModuleType("fake_module_common")
    builder.__file__ = str(path)
    builder.parsed = []

    class ModuleDepFinder:
        def __init__(self, module_fqn, tree, is_pkg_init=False):
            builder.parsed.append(module_fqn)
            self.module_fqn, self.submodules, self.optional_imports = module_fqn, {("a", "b")}, set()

    builder.ModuleDepFinder = ModuleDepFinder
    builder._compile_module_ast = lambda name, source: ("tree", name, source)
    return builder


def test_another_module_builder_does_not_read_what_this_one_found(cache, tmp_path):
    """The imports found in a source are kept per builder: a different ansible-core source misses."""
    first, same, other = (_fake_builder(tmp_path, s) for s in ("# core A\n", "# core A\n", "# core B\n"))
    for builder in (first, same, other):
        cache._patch_module_builder(builder)
        found = builder.ModuleDepFinder("m.utils", builder._compile_module_ast("m.utils", b"import a.b\n"))
        assert found.submodules == {("a", "b")}
    assert (first.parsed, same.parsed, other.parsed) == (["m.utils"], [], ["m.utils"])


def test_loading_the_cache_imports_nothing_a_module_would_not(tmp_path):
    """Every Python process of the test venv loads the cache: it may only bring what Ansible's modules
    import anyway, or each of the suite's thousands of module runs pays for it."""
    probe = (
        "import sys; before = set(sys.modules); import importlib.util as u; "
        "s = u.spec_from_file_location('cache', sys.argv[1]); m = u.module_from_spec(s); s.loader.exec_module(m); "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(ROOT / "tests/testbed/pycode_cache.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "CCO_PYCODE_CACHE": "1", "CCO_PYCODE_CACHE_DIR": str(tmp_path)},
        check=True,
    )
    added = set(proc.stdout.split())
    assert "json" in added  # the probe sees what the cache imports
    assert not {m for m in added if m.startswith(("importlib.abc", "importlib.resources"))}, sorted(added)


@pytest.fixture
def jinja_cache(cache, monkeypatch):
    """The cache's Jinja patch on the real AnsibleEnvironment (which the installed copy may have patched
    already: it starts from Jinja's own compile), writing where `cache` does, with code generations counted."""
    import jinja2  # noqa: PLC0415
    from ansible._internal._templating import _jinja_bits  # noqa: PLC0415

    env_class = _jinja_bits.AnsibleEnvironment
    monkeypatch.setattr(env_class, "compile", jinja2.Environment.compile)
    generated = []
    generate = env_class._generate

    def counting(self, source, name, filename, defer_init=False):
        generated.append(source)
        return generate(self, source, name, filename, defer_init=defer_init)

    monkeypatch.setattr(env_class, "_generate", counting)
    cache._patch_jinja(_jinja_bits)
    cache.generated = generated
    return cache


def _templar(**variables):
    """A new Templar with its own environment, as each task's worker process makes."""
    from ansible.template import Templar  # noqa: PLC0415

    return Templar(loader=None, variables=variables)


def _trusted(text: str):
    from ansible.template import trust_as_template  # noqa: PLC0415

    return trust_as_template(text)


def test_a_template_compiled_in_one_environment_is_read_back_in_another(jinja_cache):
    template = _trusted("{% for i in range(n) %}{{ i | default(0) * 2 }},{% endfor %}{{ who }}")
    assert _templar(n=3, who="a").template(template) == "0,2,4,a"
    assert len(jinja_cache.generated) == 1
    assert _templar(n=2, who="b").template(template) == "0,2,b"  # read back: what it renders is its own
    assert len(jinja_cache.generated) == 1
    # An expression (a conditional, a loop's items) is a tree, not a string: cached the same way.
    assert _templar(x=4).evaluate_expression(_trusted("x is even and x > 3")) is True
    assert _templar(x=5).evaluate_expression(_trusted("x is even and x > 3")) is False
    assert len(jinja_cache.generated) == 2


def test_a_setting_the_code_depends_on_is_part_of_the_key(jinja_cache):
    """Same source, another lexer setting: compiled again, rendered as that setting says."""
    template = _trusted("{% if true %}\nA{% endif %}")
    assert _templar().template(template) == "A"  # Ansible trims the newline after a block tag
    assert _templar().template(template, overrides={"trim_blocks": False}) == "\nA"
    assert _templar().template(template, overrides={"trim_blocks": False}) == "\nA"
    assert len(jinja_cache.generated) == 2


def test_a_filter_passed_its_arguments_another_way_is_compiled_again(jinja_cache):
    """The generated code calls a filter with the context when the filter asks for it: an entry made
    with a filter that did is not used where the same name takes only the value."""
    from jinja2 import pass_context  # noqa: PLC0415

    @pass_context
    def tenfold_with_context(_context, value):
        return value * 10

    def tenfold(value):
        return value * 10

    template = _trusted("{{ x | tenfold }}")
    first = _templar(x=5)
    first._engine.environment.filters["tenfold"] = tenfold_with_context
    assert first.template(template) == 50
    second = _templar(x=6)
    second._engine.environment.filters["tenfold"] = tenfold
    assert second.template(template) == 60  # read back unchanged, it would call tenfold(context, 6)
    assert len(jinja_cache.generated) == 2
    third = _templar(x=7)
    third._engine.environment.filters["tenfold"] = tenfold
    assert third.template(template) == 70
    assert len(jinja_cache.generated) == 2  # the entry now holds the plain filter's code: read back


def test_a_damaged_template_entry_is_compiled_again_and_replaced(jinja_cache, tmp_path):
    template = _trusted("{{ a ~ b }}")
    assert _templar(a="x", b="y").template(template) == "xy"
    (entry,) = (tmp_path / "cache").glob("jinja-*")
    entry.write_bytes(b"\x00garbage")
    assert _templar(a="p", b="q").template(template) == "pq"
    assert len(jinja_cache.generated) == 2
    assert _templar(a="r", b="s").template(template) == "rs"
    assert len(jinja_cache.generated) == 2

"""The project_files module, run in-process through the shared module runner against real
files under tmp_path."""

from __future__ import annotations

import hashlib
import importlib
import os
import stat

from helpers.module_runner import PACKAGE
from helpers.module_runner import run as run_module

# The stack's failure messages read this module's result (module_runner puts the collection on the path).
compose_project = importlib.import_module(PACKAGE + ".filter.compose_project")


def run(files, check=False, diff=False):
    return run_module("project_files", {"files": files}, check=check, diff=diff)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _tree(tmp_path):
    d = tmp_path / "proj" / "svc"
    return [
        {"path": str(d), "state": "directory", "mode": "0755"},
        {"path": str(d / "secrets"), "state": "directory", "owner": "4242", "group": "4343", "mode": "0700"},
        {"path": str(d / "config.yaml"), "content": "a: 1\n", "mode": "0644"},
        {"path": str(d / "secrets" / "token"), "content": "tok", "owner": "4242", "group": "4343", "mode": "0600"},
        {"path": str(d / "old.crt"), "state": "absent"},
    ]


def test_makes_the_tree_then_a_second_run_touches_nothing(tmp_path):
    files = _tree(tmp_path)
    res = run(files)
    assert res["rc"] == 0 and res["changed"] is True, res
    d = tmp_path / "proj" / "svc"
    assert (d / "config.yaml").read_text() == "a: 1\n"
    assert _mode(d) == 0o755 and _mode(d / "secrets") == 0o700 and _mode(d / "secrets" / "token") == 0o600
    st = os.stat(d / "secrets" / "token")
    assert (st.st_uid, st.st_gid) == (4242, 4343)
    assert [r["changed"] for r in res["files"]] == [True, True, True, True, False]
    assert res["files"][2]["checksum"] == hashlib.sha1(b"a: 1\n").hexdigest()
    os.utime(d / "config.yaml", ns=(1_000_000_000, 1_000_000_000))
    again = run(files, diff=True)
    assert again["changed"] is False and again["diff"] == [], again
    assert os.stat(d / "config.yaml").st_mtime_ns == 1_000_000_000  # not rewritten
    assert sorted(p.name for p in d.iterdir()) == ["config.yaml", "secrets"]  # no temporary file left


def test_check_mode_tells_and_writes_nothing(tmp_path):
    res = run(_tree(tmp_path), check=True, diff=True)
    assert res["changed"] is True
    assert not (tmp_path / "proj").exists()
    after = [d["after"] for d in res["diff"]]
    assert "a: 1\n" in after and any(a.startswith("directory") for a in after)
    assert [r["exists"] for r in res["files"]] == [False] * 5


def test_changed_content_and_mode_show_in_the_diff(tmp_path):
    files = _tree(tmp_path)
    run(files)
    files[2]["content"] = "a: 2\n"
    files[0]["mode"] = "0750"
    res = run(files, diff=True)
    assert res["changed"] is True
    by_header = {d["after_header"]: d for d in res["diff"]}
    conf = by_header[files[2]["path"]]
    assert (conf["before"], conf["after"]) == ("a: 1\n", "a: 2\n")
    assert by_header[files[0]["path"]]["after"] == "mode: 0750\n"
    assert _mode(files[0]["path"]) == 0o750
    assert [r["changed"] for r in res["files"]] == [True, False, True, False, False]


def test_absent_removes_files_links_and_directories(tmp_path):
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "f").write_text("x")
    (tmp_path / "file").write_text("x")
    os.symlink(tmp_path / "file", tmp_path / "link")
    files = [{"path": str(tmp_path / n), "state": "absent"} for n in ("dir", "link", "file")]
    assert run(files, check=True)["changed"] is True
    assert (tmp_path / "dir" / "sub" / "f").exists()
    res = run(files)
    assert [r["changed"] for r in res["files"]] == [True, True, True]
    assert sorted(os.listdir(tmp_path)) == []
    assert run(files)["changed"] is False


def test_a_failing_check_keeps_the_old_file_and_stops(tmp_path):
    conf = tmp_path / "prometheus.yml"
    conf.write_text("good\n")
    later = tmp_path / "later"
    res = run(
        [
            {"path": str(conf), "content": "bad\n", "validate": "grep -q good %s"},
            {"path": str(later), "content": "x"},
        ]
    )
    assert res["rc"] == 1 and "failed its check" in res["msg"] and str(conf) in res["msg"], res
    assert conf.read_text() == "good\n"
    assert not later.exists()
    assert sorted(os.listdir(tmp_path)) == ["prometheus.yml"]  # no temporary file left
    ok = run([{"path": str(conf), "content": "still good\n", "validate": "grep -q good %s"}])
    assert ok["changed"] is True and conf.read_text() == "still good\n"


def test_validate_runs_only_when_the_content_changes(tmp_path):
    conf = tmp_path / "c"
    conf.write_text("same")
    res = run([{"path": str(conf), "content": "same", "validate": "false %s"}])
    assert res["rc"] == 0 and res["changed"] is False


def test_copies_from_a_source_on_the_host_and_keeps_a_link(tmp_path):
    src = tmp_path / "ca.crt"
    src.write_text("PEM")
    target = tmp_path / "real.crt"
    target.write_text("old")
    os.symlink(target, tmp_path / "link.crt")
    res = run([{"path": str(tmp_path / "link.crt"), "src": str(src), "mode": "0644"}])
    assert res["changed"] is True
    assert os.path.islink(tmp_path / "link.crt") and target.read_text() == "PEM"


def test_a_missing_source_fails_but_not_in_check_mode(tmp_path):
    entry = [{"path": str(tmp_path / "server.crt"), "src": str(tmp_path / "not-made-yet.crt")}]
    assert run(entry, check=True)["changed"] is True
    res = run(entry)
    assert res["rc"] == 1 and "not-made-yet.crt" in res["msg"]


def test_bad_entries_are_refused_before_anything_is_written(tmp_path):
    first = {"path": str(tmp_path / "a"), "content": "x"}
    for bad, words in [
        ({"path": "relative/b", "content": "x"}, "must be absolute"),
        ({"path": str(tmp_path / "b")}, "either content or src"),
        ({"path": str(tmp_path / "b"), "content": "x", "src": "/etc/hostname"}, "either content or src"),
        ({"path": str(tmp_path / "b"), "content": "x", "mode": "rw-"}, "octal"),
        ({"path": str(tmp_path / "b"), "content": "x", "owner": "no-such-user-here"}, "does not exist"),
        ({"path": str(tmp_path / "b"), "content": "x", "validate": "true"}, "%s"),
    ]:
        res = run([first, bad])
        assert res["rc"] == 1 and words in res["msg"], (bad, res)
        assert not (tmp_path / "a").exists()


def test_a_file_where_a_directory_goes_is_not_replaced(tmp_path):
    (tmp_path / "x").write_text("mine")
    res = run([{"path": str(tmp_path / "x"), "state": "directory"}])
    assert res["rc"] == 1 and "not a directory" in res["msg"]
    assert (tmp_path / "x").read_text() == "mine"
    (tmp_path / "d").mkdir()
    res = run([{"path": str(tmp_path / "d"), "content": "x"}])
    assert res["rc"] == 1 and "is a directory" in res["msg"]


def test_new_file_mode_defaults_and_existing_mode_is_kept(tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    old.write_text("1")
    os.chmod(old, 0o600)
    run([{"path": str(new), "content": "x"}, {"path": str(old), "content": "2"}])
    assert _mode(new) == 0o644 and _mode(old) == 0o600 and old.read_text() == "2"


def test_a_refusal_is_told_with_the_tool_s_words_by_the_stack(tmp_path):
    """The stack's failure message (compose_failure) reads the path and the words from the result."""
    conf = tmp_path / "prometheus.yml"
    # The command names its tool the way config_check does (--entrypoint); sh ignores the rest.
    check = "sh -c 'echo \"FAILED: not a valid duration string: 5x\"; exit 1' --entrypoint /bin/promtool %s"
    res = run([{"path": str(conf), "content": "scrape_interval: 5x\n", "validate": check}])
    assert res["rc"] == 1 and res["path"] == str(conf) and res["exit_status"] == 1
    out = compose_project.compose_failure(res, [], [], {"dir": str(tmp_path), "last_good": False, "touched": False})
    assert out.startswith("promtool refused the rendered %s, so it was not written." % conf), out
    assert "not a valid duration string: 5x" in out
    assert not conf.exists()


def test_force_false_keeps_a_generated_secret_and_fixes_its_mode(tmp_path):
    secret = tmp_path / "admin_password"
    entry = {"path": str(secret), "content": "first", "mode": "0600", "force": False}
    assert run([entry])["changed"] is True and secret.read_text() == "first"
    os.chmod(secret, 0o644)
    res = run([dict(entry, content="second")])
    assert res["changed"] is True and secret.read_text() == "first" and _mode(secret) == 0o600
    assert res["files"][0]["checksum"] == hashlib.sha1(b"first").hexdigest()
    assert run([dict(entry, content="third")])["changed"] is False


def test_prune_removes_what_the_role_no_longer_ships_and_nothing_else(tmp_path):
    d = tmp_path / "dashboards"
    d.mkdir()
    for name in ("old.json", "kept.json", "notes.txt"):
        (d / name).write_text(name)
    (d / "sub.json").mkdir()
    files = [
        {"path": str(d), "state": "directory", "prune": "*.json"},
        {"path": str(d / "kept.json"), "content": "new"},
    ]
    checked = run(files, check=True, diff=True)
    assert checked["changed"] is True and (d / "old.json").exists()
    res = run(files)
    assert [r["path"] for r in res["files"] if r["changed"]] == [str(d / "kept.json"), str(d / "old.json")]
    assert sorted(p.name for p in d.iterdir()) == ["kept.json", "notes.txt", "sub.json"]
    assert run(files)["changed"] is False


def test_a_secret_changes_in_the_diff_without_its_content(tmp_path):
    """A secret entry (content or src) says in the diff that it changes, never what it holds; its
    content shows nowhere in what the module prints, and a failure after it still tells its reason."""
    token, copied = "s3cr3t-token-value-9f2c", "copied-private-key-0b7e"
    (tmp_path / "key.src").write_text(copied)
    (tmp_path / "token").write_text("old-token-value-1234")
    files = [
        {"path": str(tmp_path / "token"), "content": token, "mode": "0600", "secret": True},
        {"path": str(tmp_path / "server.key"), "src": str(tmp_path / "key.src"), "mode": "0600", "secret": True},
        {"path": str(tmp_path / "config.yaml"), "content": "a: 1\n"},
    ]
    res = run(files, diff=True)
    assert res["rc"] == 0 and [f["changed"] for f in res["files"]] == [True, True, True], res
    assert (tmp_path / "token").read_text() == token and (tmp_path / "server.key").read_text() == copied
    assert [(d["before"], d["after"]) for d in res["diff"]] == [
        ("(secret, 20 bytes, not shown)\n", "(secret, 23 bytes, not shown)\n"),
        ("", "(secret, 23 bytes, not shown)\n"),
        ("", "a: 1\n"),  # other entries show their content as before
    ]
    for text in (token, copied, "old-token-value-1234"):
        assert text not in res["_raw"]
    # A later entry that cannot be written fails with its own words, the secret still masked.
    failing = files[:1] + [{"path": str(tmp_path / "missing" / "x"), "content": "x"}]
    (tmp_path / "token").write_text("old-token-value-1234")
    res = run(failing, diff=True)
    assert res["rc"] == 1 and "its directory does not exist" in res["msg"], res
    assert token not in res["_raw"] and "old-token-value-1234" not in res["_raw"]


def test_without_secret_the_diff_shows_the_content(tmp_path):
    """The masking is the option's doing: the same entry without it shows both contents."""
    (tmp_path / "token").write_text("old-token-value-1234")
    res = run([{"path": str(tmp_path / "token"), "content": "s3cr3t-token-value-9f2c"}], diff=True)
    assert [(d["before"], d["after"]) for d in res["diff"]] == [("old-token-value-1234", "s3cr3t-token-value-9f2c")]

"""tests/testbed/module_forkserver.py: a python3 reading its program from stdin, as Ansible runs a
module, runs it in a fork of the server and ends as that python3 would have: same output, exit
status, directory, environment and umask; it runs the program itself when no server answers or the
server refuses it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from testbed import module_forkserver

PROGRAM = textwrap.dedent(
    """
    import atexit, json, os, subprocess, sys
    atexit.register(lambda: print("atexit ran"))
    print(json.dumps({
        "parent": os.getppid(),
        "cwd": os.getcwd(),
        "env": os.environ.get("FORKSERVER_TEST"),
        "umask": oct(os.umask(0)),
        "argv": sys.argv,
        "child": subprocess.run(["sh", "-c", "exit 7"]).returncode,
    }))
    print("to stderr", file=sys.stderr)
    sys.exit(3)
    """
)


@pytest.fixture
def server(tmp_path):
    path = tmp_path / "socket"
    proc = module_forkserver.start(path)
    yield proc, path
    proc.terminate()
    proc.wait(timeout=10)


def _python(socket_path, cwd):
    """The venv's python3 with its program on stdin and nothing on its command line, umask 027."""
    env = {**os.environ, "FORKSERVER_TEST": "from the client", "CCO_MODULE_FORKSERVER": str(socket_path)}
    return subprocess.Popen(
        ["sh", "-c", 'umask 027 && exec "$0"', sys.executable],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        text=True,
    )


def _installed() -> None:
    """The hook that hands the program over is installed into the venv by make venv-test."""
    found = subprocess.run(
        [sys.executable, "-c", "import cco_module_forkserver, cco_pycode_cache"], capture_output=True, check=False
    )
    assert found.returncode == 0, "run make venv-test: the venv has no cco_module_forkserver"


def test_the_program_runs_in_a_fork_of_the_server_as_its_own_python3_would(server, tmp_path):
    _installed()
    proc, path = server
    client = _python(path, tmp_path)
    out, err = client.communicate(PROGRAM, timeout=60)
    assert client.returncode == 3, err
    lines = out.splitlines()
    seen = json.loads(lines[0])
    assert seen == {
        "parent": proc.pid,
        "cwd": str(tmp_path),
        "env": "from the client",
        "umask": "0o27",
        "argv": [""],
        "child": 7,
    }
    assert lines[1:] == ["atexit ran"]
    assert err == "to stderr\n"


def test_without_a_server_the_program_runs_in_the_python3_itself(tmp_path):
    _installed()
    client = _python(tmp_path / "nobody-listens", tmp_path)
    out, err = client.communicate(PROGRAM, timeout=60)
    assert client.returncode == 3, err
    seen = json.loads(out.splitlines()[0])
    assert seen["parent"] == os.getpid() and seen["cwd"] == str(tmp_path) and seen["child"] == 7


@pytest.mark.parametrize(
    ("program", "status", "stderr"),
    [
        ("raise KeyError('boom')", 1, "KeyError: 'boom'"),
        ("import sys; sys.exit('said why')", 1, "said why"),
        ("import sys; sys.exit(None)", 0, ""),
        ("print('no exit call')", 0, ""),
        ("import sys; sys.exit(256 + 5)", 5, ""),
    ],
)
def test_exit_status_and_uncaught_errors_are_those_of_python3(server, tmp_path, program, status, stderr):
    _installed()
    _proc, path = server
    client = _python(path, tmp_path)
    out, err = client.communicate(program, timeout=60)
    alone = {k: v for k, v in os.environ.items() if k != "CCO_MODULE_FORKSERVER"}
    direct = subprocess.run([sys.executable], input=program, capture_output=True, text=True, env=alone, check=False)
    assert client.returncode == direct.returncode == status
    assert stderr in err and stderr in direct.stderr
    assert out == direct.stdout


def test_a_client_of_another_user_is_refused_and_its_descriptors_closed(server, tmp_path):
    _proc, path = server
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(str(path))
    other = [os.getuid() + 1, os.geteuid() + 1, os.getgid(), os.getegid(), sorted(os.getgroups())]
    message = {"cwd": str(tmp_path), "env": {}, "umask": 0o22, "identity": other}
    read, write = os.pipe()
    socket.send_fds(conn, [json.dumps(message).encode()], [read, write, 2])
    conn.shutdown(socket.SHUT_WR)
    os.close(read)
    answer = conn.recv(4)
    conn.close()
    assert int.from_bytes(answer, "big", signed=True) == -1
    # The server kept no copy of the pipe's read end: writing to it fails once ours is closed.
    deadline = time.monotonic() + 5
    with pytest.raises(BrokenPipeError):
        while time.monotonic() < deadline:
            os.write(write, b"x")
            time.sleep(0.05)
    os.close(write)


def test_a_signal_to_the_python3_reaches_the_program(server, tmp_path):
    _installed()
    _proc, path = server
    program = "import os, sys, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n"
    client = _python(path, tmp_path)
    client.stdin.write(program)
    client.stdin.close()
    child = int(client.stdout.readline())
    assert child != client.pid
    client.send_signal(signal.SIGTERM)
    assert client.wait(timeout=10) == 1
    assert "ended without an exit status" in client.stderr.read()
    with pytest.raises(ProcessLookupError):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            os.kill(child, 0)
            time.sleep(0.05)

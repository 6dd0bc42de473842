"""A fork server for the Ansible modules the suite runs on this machine.

Ansible sends each module to its interpreter on stdin (pipelining) and that interpreter imports
ansible.module_utils.basic and what it needs again: about 0.1 s of CPU of a module's 0.2-0.3 s, and
the suite runs thousands. The server imports those once; each module run still starts the venv's
python3, which hands its stdin, stdout, stderr, working directory, environment and umask to the
server and exits with the status of a fresh fork of it that runs the module's code as that python3
would have. The module and every module_utils it brings still come from its own payload; only
what ansible-core's own modules would import from the same venv is there already.

The server refuses (and the python3 runs the module itself) when it runs as another user or group,
e.g. under become. CCO_MODULE_FORKSERVER names the server's socket; without it, or when nothing
listens there, every module runs as usual.

    python tests/testbed/module_forkserver.py SOCKET   serve until the process that started it ends
"""

from __future__ import annotations

import os
import sys

ENV = "CCO_MODULE_FORKSERVER"
_STATUS = 4
_MAX_MESSAGE = 1 << 20


def _identity() -> list:
    return [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups())]


def run_here() -> None:
    """In a python3 about to read a module from stdin: have the server run it, and exit with its
    status. Returns (the caller runs the module itself) when there is no server or it refuses."""
    path = os.environ.get(ENV)
    if path in (None, "", "0") or getattr(sys, "orig_argv", ["", ""])[1:] or os.isatty(0):
        return
    import json  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import socket  # noqa: PLC0415

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        umask = os.umask(0)
        os.umask(umask)
        message = {"cwd": os.getcwd(), "env": dict(os.environ), "umask": umask, "identity": _identity()}
        socket.send_fds(conn, [json.dumps(message).encode()], [0, 1, 2])
        conn.shutdown(socket.SHUT_WR)
        pid = int.from_bytes(_read(conn, _STATUS), "big", signed=True)
    except (OSError, ValueError):
        conn.close()
        return
    if pid <= 0:  # refused: stdin is untouched, this process runs the module
        conn.close()
        return

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)
    try:
        status = _read(conn, _STATUS)
    except OSError:
        status = b""
    if len(status) < _STATUS:
        os.write(2, f"module process {pid} ended without an exit status (killed?)\n".encode())
        os._exit(1)
    os._exit(int.from_bytes(status, "big", signed=True) & 0xFF)


def _read(conn, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _run_module(conn, message: dict, fds: list[int]) -> None:
    """In a fresh fork of the server: become the python3 that connected, run stdin as __main__."""
    import atexit  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415
    import traceback  # noqa: PLC0415
    import types  # noqa: PLC0415

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(message["cwd"])
    os.environ.clear()
    os.environ.update(message["env"])
    os.umask(message["umask"])
    sys.argv = [""]
    sys.path[0] = ""
    conn.sendall(os.getpid().to_bytes(_STATUS, "big", signed=True))
    code = 0
    try:
        main = types.ModuleType("__main__")
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        source = sys.stdin.buffer.read()
        exec(compile(source, "<stdin>", "exec"), main.__dict__)  # noqa: S102 - what python3 does with stdin
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 - what python3 prints for any uncaught exception
        traceback.print_exc()
        code = 1
    try:
        threading._shutdown()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        try:
            conn.sendall(code.to_bytes(_STATUS, "big", signed=True))
        except OSError:
            pass
        os._exit(code)


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def start(path):
    """Start a server on this venv's python listening at path; returns its Popen once it accepts
    clients."""
    import subprocess  # noqa: PLC0415 - here: every module's python3 imports this file

    server = subprocess.Popen(
        [sys.executable, __file__, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    if server.stdout.readline().strip() != "ready":
        server.kill()
        raise RuntimeError(f"the module fork server did not start (exit {server.wait()}): see its error above")
    return server


def serve(path: str) -> None:
    import gc  # noqa: PLC0415
    import json  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import socket  # noqa: PLC0415

    # What every module run imports, from the venv's ansible-core: the payload's copies are the same.
    import ansible.module_utils._internal._ansiballz._loader  # noqa: F401, PLC0415
    import ansible.module_utils.basic  # noqa: F401, PLC0415

    for name in ("base64", "shutil", "tempfile", "zipfile", "datetime", "runpy", "atexit", "traceback", "types"):
        __import__(name)
    os.environ.pop(ENV, None)
    # The children share these pages with the server: a collection in a child leaves them alone.
    gc.freeze()
    parent = os.getppid()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they end
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    server.settimeout(2)
    print("ready", flush=True)
    while os.getppid() == parent:
        try:
            conn, _addr = server.accept()
        except TimeoutError:
            continue
        conn.settimeout(10)  # a client that connects and says nothing does not hold up the others
        fds = []
        try:
            raw, fds, _flags, _addr = socket.recv_fds(conn, _MAX_MESSAGE, 3)
            while chunk := conn.recv(_MAX_MESSAGE):  # the client has sent all once it shuts down
                raw += chunk
            message = json.loads(raw)
        except (OSError, ValueError):
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        if message.get("identity") != _identity() or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.sendall((-1).to_bytes(_STATUS, "big", signed=True))
            conn.close()
            continue
        if os.fork() == 0:
            server.close()
            conn.settimeout(None)
            _run_module(conn, message, fds)
        for fd in fds:
            os.close(fd)
        conn.close()
    os.unlink(path)


if __name__ == "__main__":
    serve(sys.argv[1])

"""Client "laptops" as containers on this machine's Docker, reached with the
community.docker.docker connection, and a server on the host's bridge address."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path


def bridge_address() -> str:
    """The host's address on Docker's default bridge: what the containers can reach."""
    out = subprocess.run(["docker", "network", "inspect", "bridge"], capture_output=True, text=True, check=True)
    net = json.loads(out.stdout)[0]
    gateway = net["IPAM"]["Config"][0].get("Gateway")
    if gateway:
        return gateway
    # Older engines leave the gateway out; it is the bridge interface's address.
    dev = net["Options"]["com.docker.network.bridge.name"]
    addrs = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", dev], capture_output=True, text=True, check=True)
    return json.loads(addrs.stdout)[0]["addr_info"][0]["local"]


def start_clients(image: str, count: int, prefix: str | None = None) -> list[str]:
    prefix = prefix or f"cco-laptop-{uuid.uuid4().hex[:4]}"
    names = [f"{prefix}-{i}" for i in range(1, count + 1)]
    for name in names:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--label", "io.claude-obs.testbed=1", image],
            check=True,
            capture_output=True,
        )
    return names


def remove_clients(names: list[str]) -> None:
    if names:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)


def local_host(**hostvars) -> dict:
    """An inventory host that is this machine (local connection)."""
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **hostvars}


def inventory(
    path: Path,
    server_address: str,
    clients: list[str],
    servers: dict | None = None,
    group_vars: dict | None = None,
) -> Path:
    """One server on this machine at server_address (or the given servers), and the client containers."""
    inv = {
        "all": {
            "vars": group_vars or {},
            "children": {
                "observability_servers": {
                    "hosts": servers if servers is not None else {"obs-server": local_host(ansible_host=server_address)}
                },
                "claude_clients": {
                    "hosts": {
                        name: {
                            "ansible_connection": "community.docker.docker",
                            "ansible_host": name,
                            "ansible_python_interpreter": "/usr/bin/python3",
                        }
                        for name in clients
                    }
                },
            },
        }
    }
    path.write_text(json.dumps(inv, indent=2))
    return path

"""Telemetry of the Claude Code Desktop app, derived from a real capture of the CLI.

The Desktop app sends the CLI's events and metrics with one difference that matters to the
dashboards: its resource attribute ``service.name`` is ``claude-code-desktop`` (the CLI sends
``claude-code``). No capture of the Desktop app is available here, so the Desktop session is
*derived*: every file of the real capture ``shared/fixtures/claude-code-2.1.330/tool-session`` with
ONLY the value of the resource attribute ``service.name`` changed to ``claude-code-desktop``. Ids,
timestamps, attributes, values and the order of everything are the capture's.

Nothing is copied into the repository: tests write the derived files at test time
(``write(tmp_dir)`` gives ``<tmp_dir>/desktop-session/*.json``) or use the derived payloads in
memory (``session_payloads()``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from helpers import otlp

SOURCE_SESSION = "tool-session"
CLI_SERVICE_NAME = "claude-code"
SERVICE_NAME = "claude-code-desktop"
DIR_NAME = "desktop-session"
_RESOURCE_LISTS = ("resourceLogs", "resourceMetrics", "resourceSpans")


def derive(payload: dict, service_name: str = SERVICE_NAME) -> dict:
    """A copy of one OTLP/JSON payload with the resource attribute service.name set to service_name."""
    out = copy.deepcopy(payload)
    changed = 0
    for key in _RESOURCE_LISTS:
        for item in out.get(key, []):
            for attr in item.get("resource", {}).get("attributes", []):
                if attr["key"] == "service.name":
                    if attr["value"] != {"stringValue": CLI_SERVICE_NAME}:
                        raise ValueError(f"unexpected service.name {attr['value']} in the capture")
                    attr["value"] = {"stringValue": service_name}
                    changed += 1
    if not changed:
        raise ValueError("no resource attribute service.name in the payload")
    return out


def files() -> list[tuple[str, dict]]:
    """(file name, derived payload) for every file of the captured session, timestamps as captured."""
    return [(path.name, derive(otlp.load(path))) for path in otlp.session_files(SOURCE_SESSION)]


def write(directory: Path) -> Path:
    """Write the derived session to <directory>/desktop-session/ (same file names as the capture)."""
    out = Path(directory) / DIR_NAME
    out.mkdir(parents=True, exist_ok=True)
    for name, payload in files():
        (out / name).write_text(json.dumps(payload, indent=4) + "\n")
    return out


def session_payloads(now_ns: int | None = None) -> list[tuple[str, dict]]:
    """(signal, payload) of the derived session, moved like otlp.session_payloads (ends just before now)."""
    return [(signal, derive(payload)) for signal, payload in otlp.session_payloads(SOURCE_SESSION, now_ns)]

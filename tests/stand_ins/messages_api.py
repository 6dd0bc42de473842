"""A local stand-in for the Anthropic Messages API (POST /v1/messages), enough for a headless
`claude -p` session: it answers every request with one short text reply, streamed as server-sent
events in the order the real API uses (message_start, content_block_start, ping,
content_block_delta..., content_block_stop, message_delta with usage, message_stop), or as one
JSON message when the request does not ask for a stream. It is a test double, not the real API.

Run by hand: python tests/stand_ins/messages_api.py --port 8089
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = "Telemetry check complete."


def _usage(request: dict) -> tuple[int, int]:
    text = json.dumps(request.get("messages", []))
    return max(1, len(text) // 4), max(1, len(REPLY) // 4)


def sse_events(request: dict, reply: str = REPLY) -> list[tuple[str, dict]]:
    input_tokens, output_tokens = _usage(request)
    message_id = "msg_standin_" + uuid.uuid4().hex[:20]
    model = request.get("model", "claude-stand-in")
    words = reply.split(" ")
    chunks = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    events: list[tuple[str, dict]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 1,
                    },
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
    ]
    for chunk in chunks:
        events.append(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}},
            )
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def json_message(request: dict, reply: str = REPLY) -> dict:
    input_tokens, output_tokens = _usage(request)
    return {
        "id": "msg_standin_" + uuid.uuid4().hex[:20],
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "claude-stand-in"),
        "content": [{"type": "text", "text": reply}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
        },
    }


class MessagesAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address):
        super().__init__(address, _Handler)
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MessagesAPI

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def _send_json(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("request-id", "req_standin_" + uuid.uuid4().hex[:12])
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):  # noqa: N802 - http.server naming
        self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})

    def do_HEAD(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            self._send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad JSON"}})
            return
        with self.server.lock:
            self.server.requests.append({"path": path, "headers": dict(self.headers), "body": request})
        if path.endswith("/count_tokens"):
            self._send_json(200, {"input_tokens": _usage(request)[0]})
            return
        if not path.endswith("/v1/messages"):
            self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
            return
        if not request.get("stream"):
            self._send_json(200, json_message(request))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("request-id", "req_standin_" + uuid.uuid4().hex[:12])
        self.end_headers()
        for name, data in sse_events(request):
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True


@contextlib.contextmanager
def serve(host: str = "127.0.0.1", port: int = 0):
    server = MessagesAPI((host, port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args()
    with serve(args.host, args.port) as server:
        print(f"Messages API stand-in on {server.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()

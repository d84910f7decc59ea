"""A scripted HTTP server on loopback, for playing an outside API in tests.

Each request is answered by the next scripted reply for its path (or a default),
and recorded with its method, path, headers and body.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict/list -> JSON; str/bytes -> sent as is
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body)


class FakeHTTPServer:
    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply(200, {"success": True, "result": []})
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, path_suffix: str, *replies: Reply) -> None:
        self.scripts[path_suffix].extend(replies)

    def _next(self, path: str) -> Reply:
        with self._lock:
            for suffix, queue in self.scripts.items():
                if path.split("?")[0].endswith(suffix) and queue:
                    return queue.popleft()
        return self.default

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.requests.append(
                        Recorded(self.command, self.path, dict(self.headers), body, time.monotonic())
                    )
                reply = fake._next(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    payload = payload.encode()
                payload = payload or b""
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, str(value))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> FakeHTTPServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

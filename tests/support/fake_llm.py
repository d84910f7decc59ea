"""A real OpenAI-compatible chat-completions server on loopback, for testing the LLM coach.

llm = FakeLLM().start()            # or: with FakeLLM() as llm:
    llm.answer = {...}             # the JSON the "model" replies with
    llm.behaviour = "slow"         # good | slow | garbage | error
    settings.COACH_LLM_URL = llm.url
    llm.requests[0].headers["authorization"]
    llm.stop()
"""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_ANSWER = {
    "summary": "You finished the login page and plan to deploy.",
    "advice": "Deploy to staging first, then ask Ken for a quick review.",
    "question": "What will you check once it's on staging?",
    "advice_key": "staging_first",
    "task_updates": [],
}


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any


class FakeLLM:
    """Serves /v1/chat/completions on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self) -> None:
        self.behaviour = "good"
        self.answer: Any = dict(GOOD_ANSWER)
        self.delay = 5.0  # seconds the "slow" behaviour waits before answering
        self.requests: list[RecordedRequest] = []
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeLLM":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let a slow answer finish now
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def completion(self) -> dict[str, Any]:
        content = self.answer if isinstance(self.answer, str) else json.dumps(self.answer)
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                fake.requests.append(
                    RecordedRequest(self.path, headers, json.loads(raw or b"null"))
                )
                if self.path != "/v1/chat/completions":
                    return self._send(404, b'{"error": "not found"}')
                if fake.behaviour == "slow":
                    fake._release.wait(fake.delay)
                if fake.behaviour == "error":
                    return self._send(500, b'{"error": "model crashed"}')
                if fake.behaviour == "garbage":
                    return self._send(200, b"<html>upstream said no</html>")
                self._send(200, json.dumps(fake.completion()).encode())

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

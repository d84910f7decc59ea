"""Cloudflare's local runtime (workerd through miniflare) answering D1's and KV's REST API.

`running_cfruntime()` starts `cfruntime/serve.mjs` on a free loopback port and yields where to
reach it; the conftest can wrap `cfruntime_session()` / `skip_unless_cfruntime()` as fixtures.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CFRUNTIME_DIR = Path(__file__).resolve().parents[2] / "cfruntime"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class CfRuntime:
    url: str
    account_id: str
    database_id: str
    namespace_id: str
    token: str

    @property
    def d1_url(self) -> str:
        return f"{self.url}/accounts/{self.account_id}/d1/database/{self.database_id}"

    @property
    def kv_url(self) -> str:
        return f"{self.url}/accounts/{self.account_id}/storage/kv/namespaces/{self.namespace_id}"

    @property
    def stats_url(self) -> str:
        return self.url.removesuffix("/client/v4") + "/__stats"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def cfruntime_available() -> tuple[bool, str]:
    """Whether node and cfruntime's npm packages are installed, and why not."""
    if shutil.which("node") is None:
        return False, "node is not installed"
    if not (CFRUNTIME_DIR / "node_modules" / "miniflare").is_dir():
        return False, f"miniflare is not installed: run `npm ci` in {CFRUNTIME_DIR}"
    return True, ""


@contextmanager
def running_cfruntime(
    *,
    account_id: str = "test-account",
    database_id: str = "test-database",
    namespace_id: str = "test-namespace",
    persist: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> Iterator[CfRuntime]:
    """Run the runtime (fresh in-memory storage unless `persist`) for the duration of the block."""
    command = [
        "node",
        str(CFRUNTIME_DIR / "serve.mjs"),
        "--port",
        "0",
        "--token",
        secrets.token_hex(16),
        "--account",
        account_id,
        "--d1",
        database_id,
        "--kv",
        namespace_id,
    ]
    if persist is not None:
        command += ["--persist", str(persist)]
    # stdin stays open while we want the runtime: serve.mjs exits when it closes.
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stderr: list[str] = []
    drain = threading.Thread(target=_drain, args=(process.stderr, stderr), daemon=True)
    drain.start()
    try:
        yield CfRuntime(**_read_ready_line(process, drain, stderr, timeout))
    finally:
        _stop(process)


def _read_ready_line(
    process: subprocess.Popen, drain: threading.Thread, stderr: list[str], timeout: float
) -> dict:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if lines and lines[0].strip():
        return json.loads(lines[0])
    # An empty line means stdout reached its end: the process is gone.
    problem = "exited" if lines else f"was not ready after {timeout:.0f}s"
    _stop(process)
    drain.join(timeout=2)
    raise RuntimeError(f"cfruntime {problem}; stderr:\n{''.join(stderr)}")


def _drain(stream, sink: list[str]) -> None:
    for line in stream:
        sink.append(line)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def skip_unless_cfruntime() -> None:
    """Skip the calling test (or module, at import) when the runtime is not installed."""
    available, reason = cfruntime_available()
    if not available:
        pytest.skip(reason, allow_module_level=True)


def cfruntime_session() -> Iterator[CfRuntime]:
    """Generator for a fixture: skip when unavailable, else one runtime for the fixture's scope."""
    skip_unless_cfruntime()
    with running_cfruntime() as runtime:
        yield runtime

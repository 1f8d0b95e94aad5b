"""A real qorch served by uvicorn in a thread of the test process (so a test may drop a route,
as an older server lacks it), circuits the client tests run, and a transport that records what
a client asked."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from qorch.http.app import create_app
from tests.conftest import settings_for
from tests.e2e.servers import free_port

FOREVER = """OPENQASM 3.0;
include "stdgates.inc";
qubit[1] q;
bit[1] c;
reset q[0];
c[0] = measure q[0];
while (c[0] == false) {
  reset q[0];
  c[0] = measure q[0];
}
"""
"""Never ends on its own: stopped by its device's time limit, or cancelled."""
SLOW_DEVICE, SLOW_SECONDS = "aer_simulator_density_matrix", 3.0
"""FOREVER ends `Error` `time_limit` after SLOW_SECONDS here (the limit of the test servers)."""
HELD_DEVICE = "aer_simulator_statevector"
"""FOREVER runs here until cancelled (600 s limit)."""
TIME_LIMITS = f"{SLOW_DEVICE}={SLOW_SECONDS:g}"


@dataclass
class Qorch:
    url: str
    app: Any

    def new_key(self) -> str:
        _, key = self.app.state.service.app.register_user(f"client-{uuid.uuid4().hex[:6]}")
        return str(key)


@contextmanager
def running_qorch(data_dir: Path, *, events: bool = True) -> Iterator[Qorch]:
    settings = settings_for(data_dir).with_overrides(job_time_limits=TIME_LIMITS)
    app = create_app(settings)
    if not events:  # a server from before GET /events
        app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != "/events"]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "qorch did not start"
        time.sleep(0.05)
    try:
        yield Qorch(f"http://127.0.0.1:{config.port}", app)
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def qorch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Qorch]:
    with running_qorch(tmp_path_factory.mktemp("qorch-client")) as running:
        yield running


@dataclass
class Recorder:
    """A real HTTP transport that notes each request: (method, path, query, Last-Event-ID)."""

    seen: list[tuple[str, str, dict[str, str], str | None]] = field(default_factory=list)

    def note(self, request: httpx.Request) -> None:
        self.seen.append(
            (
                request.method,
                request.url.path,
                dict(request.url.params),
                request.headers.get("last-event-id"),
            )
        )

    def paths(self) -> list[str]:
        return [path for _, path, _, _ in self.seen]


class RecordingTransport(httpx.HTTPTransport):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.recorder.note(request)
        return super().handle_request(request)


class AsyncRecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.recorder.note(request)
        return await super().handle_async_request(request)

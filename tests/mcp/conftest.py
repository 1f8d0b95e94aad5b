"""A live qorch (uvicorn on a free loopback port, in a thread of this process) for the MCP tests,
and accounts that talk to it with the `mcp` SDK's own client over Streamable HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult

from qorch.bootstrap import Service
from qorch.http.app import create_app
from tests.conftest import settings_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """create_app() served by uvicorn in a background thread."""

    def __init__(self, data_dir: Path, run_worker: bool) -> None:
        settings = settings_for(data_dir).with_overrides(run_worker=run_worker)
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def service(self) -> Service:
        return self.app.state.service


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """API, MCP endpoint, projector and executor: jobs run to completion."""
    with LiveServer(tmp_path_factory.mktemp("mcp-data"), run_worker=True) as server:
        yield server


@pytest.fixture(scope="session")
def queue_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No executor: jobs stay Queued until cancelled (deterministic cancel and notifications)."""
    with LiveServer(tmp_path_factory.mktemp("mcp-queue"), run_worker=False) as server:
        yield server


@dataclass
class Agent:
    """A user with an API key, connecting as an MCP client."""

    server: LiveServer
    user_id: str
    key: str

    @asynccontextmanager
    async def connect(self, mode: str = "auto", **client_args: Any) -> AsyncIterator[Client]:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {self.key}"})
        async with http:
            transport = streamable_http_client(self.server.url + "/mcp", http_client=http)
            async with Client(transport, mode=mode, **client_args) as client:
                yield client

    def log_position(self) -> int:
        return self.server.service.app.recorder.max_notification_id() or 0

    def recorded_since(self, position: int) -> list[str]:
        app = self.server.service.app
        events = [
            app.mapper.to_domain_event(n)
            for n in app.recorder.select_notifications(
                start=position, limit=10_000, inclusive_of_start=False
            )
        ]
        return [
            type(e).__qualname__ for e in events if str(getattr(e, "user_id", "")) == self.user_id
        ]


def new_agent(server: LiveServer) -> Agent:
    user_id, key = server.service.app.register_user(f"agent-{uuid.uuid4().hex[:6]}")
    return Agent(server, str(user_id), key)


@pytest.fixture
def agent(live: LiveServer) -> Agent:
    return new_agent(live)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Calls a tool that must succeed; answers its structured content."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def fail(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    """Calls a tool that must answer a tool error."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return result


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def size_of(result: CallToolResult) -> int:
    return len(json.dumps(result.structured_content, separators=(",", ":")))

"""A revoked or replaced key ends the MCP sessions it opened: their next message gets 401."""

from __future__ import annotations

from uuid import UUID

import httpx

from tests.mcp.conftest import LiveServer, new_agent
from tests.mcp.test_mcp_security import INITIALIZE, MCP_HEADERS

LIST_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


def open_session(server: LiveServer, key: str) -> dict[str, str]:
    opened = httpx.post(
        server.url + "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": key}
    )
    assert opened.status_code == 200, opened.text
    return {**MCP_HEADERS, "Authorization": key, "mcp-session-id": opened.headers["mcp-session-id"]}


def test_an_open_session_of_a_revoked_key_gets_401(queue_only: LiveServer):
    agent = new_agent(queue_only)
    session = open_session(queue_only, agent.key)
    assert httpx.post(queue_only.url + "/mcp", json=LIST_TOOLS, headers=session).status_code == 200
    queue_only.service.app.revoke_key(UUID(agent.user_id))
    refused = httpx.post(queue_only.url + "/mcp", json=LIST_TOOLS, headers=session)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


def test_an_open_session_of_a_replaced_key_gets_401(queue_only: LiveServer):
    agent = new_agent(queue_only)
    session = open_session(queue_only, agent.key)
    new_key = queue_only.service.app.rotate_key(UUID(agent.user_id))
    assert httpx.post(queue_only.url + "/mcp", json=LIST_TOOLS, headers=session).status_code == 401
    fresh = open_session(queue_only, new_key)
    assert httpx.post(queue_only.url + "/mcp", json=LIST_TOOLS, headers=fresh).status_code == 200

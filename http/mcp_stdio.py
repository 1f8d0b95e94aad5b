"""`qorch mcp`: the MCP server over stdio, for an agent on this machine.

It runs the whole application on the data directory (service, projector and, unless told not
to, an executor), and acts as one user for every call:

- the holder of an API key (`--key`, or `QORCH_API_KEY`): the same user as over HTTP;
- otherwise a local user by name (`--user`, default `local`, the user `qorch serve` creates on
  a first start), created when missing: whoever can run this command on the data directory
  can read its files anyway.

stdout is the protocol channel: logs go to stderr (and the SDK diverts stray writes to stdout
there while it serves).
"""

from __future__ import annotations

import logging

import anyio
from mcp.server.stdio import stdio_server

from qorch.domain.application import Qorch
from qorch.domain.user import User
from qorch.http.mcp import McpHost
from qorch.service import Service, open_executor, open_service
from qorch.settings import Settings

log = logging.getLogger("qorch.mcp")
DEFAULT_USER = "local"


class UnknownKey(Exception):
    """The API key given to `qorch mcp` belongs to no user."""


def local_user(app: Qorch, key: str | None, name: str | None) -> User:
    """The user a stdio server acts as: the key's holder, else the first user with that name."""
    if key:
        user = app.authenticate(key)
        if user is None:
            raise UnknownKey("the API key given to qorch mcp (--key or QORCH_API_KEY) is not valid")
        return user
    name = name or DEFAULT_USER
    found = find_user(app, name)
    if found is not None:
        return found
    user_id, new_key = app.register_user(name)
    log.warning("created user %r (%s); its API key, shown once: %s", name, user_id, new_key)
    user = app.authenticate(new_key)
    assert user is not None
    return user


def find_user(app: Qorch, name: str) -> User | None:
    """The first user registered under `name`."""
    return next(iter(app.users_named(name)), None)


async def serve_stdio(settings: Settings, key: str | None, name: str | None) -> None:
    service: Service = await anyio.to_thread.run_sync(open_service, settings)
    try:
        user = await anyio.to_thread.run_sync(local_user, service.app, key, name)
        host = McpHost(settings, local_user=user)
        host.attach(service)
        log.info("qorch MCP over stdio as user %r (data: %s)", user.name, settings.data_dir)
        async with anyio.create_task_group() as tg:
            tg.start_soon(service.projector.run, settings.poll_interval)
            tg.start_soon(host.watch.run, service)
            if settings.run_worker:
                tg.start_soon(open_executor(settings, service.app).run)
            async with stdio_server() as (read_stream, write_stream):
                options = host.server.create_initialization_options()
                await host.server.run(read_stream, write_stream, options)
            tg.cancel_scope.cancel()
    finally:
        service.close()

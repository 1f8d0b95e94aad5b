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

from qorch.bootstrap import Service, open_executor, open_service
from qorch.http.commands import UnknownKey, local_user
from qorch.http.mcp import McpHost
from qorch.settings import Settings

log = logging.getLogger("qorch.mcp")
__all__ = ["UnknownKey", "serve_stdio"]  # the command line imports both from here


async def serve_stdio(settings: Settings, key: str | None, name: str | None) -> None:
    service: Service = await anyio.to_thread.run_sync(open_service, settings)
    try:
        user = await anyio.to_thread.run_sync(local_user, service, key, name)
        host = McpHost(settings, local_user=user)
        host.attach(service)
        log.info("qorch MCP over stdio as user %r (data: %s)", user.name, settings.data_dir)
        async with anyio.create_task_group() as tg:
            tg.start_soon(service.projector.run, settings.poll_interval)
            tg.start_soon(host.watch.run, service)
            if settings.run_worker:
                tg.start_soon(open_executor(settings, service.app, service.registry).run)
            async with stdio_server() as (read_stream, write_stream):
                options = host.server.create_initialization_options()
                await host.server.run(read_stream, write_stream, options)
            tg.cancel_scope.cancel()
    finally:
        service.close()

"""The `qorch` command: serve, worker, mcp, replay, users create/rotate-key/revoke,
budget set/show/clear (budget_cli.py), usage (usage_cli.py), db init; over HTTP: run, jobs,
show, cancel, devices, watch (client_cli.py)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

import anyio
from pydantic import ValidationError

from qorch import budget_cli, client_cli, usage_cli
from qorch.domain.user import KEY_PREFIX
from qorch.settings import Settings

if TYPE_CHECKING:
    from qorch.domain.application import Qorch
    from qorch.domain.user import User

# The key's name may arrive percent-encoded (HAIQU%5FAPI%5FKEY), and keys have a known prefix.
KEY_IN_QUERY = re.compile(r"(HAIQU(?:_|%5F)API(?:_|%5F)KEY=)[^&\s]*|(qk_)[A-Za-z0-9_%-]+", re.I)


class RedactKeys(logging.Filter):
    """Access logs show paths with their query string: never let an API key through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(str(record.msg))
        return True


QUERY_STRING = re.compile(r"\?(\S*)")
KEY_NAME = re.compile(r"HAIQU_API_KEY", re.I)


def redact(text: str) -> str:
    text = QUERY_STRING.sub(lambda m: "?" + _redact_query(m.group(1)), text)
    return KEY_IN_QUERY.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


def _redact_query(query: str) -> str:
    """Each parameter judged by its percent-decoded name and value (`HAIQU_%41PI_KEY=qk%5F...`
    is a key too), shown as sent unless it is one."""
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if KEY_NAME.fullmatch(_decoded(name)) or KEY_PREFIX in _decoded(part):
            part = f"{name}{equals}[redacted]" if equals else "[redacted]"
        parts.append(part)
    return "&".join(parts)


def _decoded(text: str, rounds: int = 4) -> str:
    for _ in range(rounds):  # decoded until stable: a key may be encoded more than once
        decoded = unquote_plus(text)
        if decoded == text:
            break
        text = decoded
    return text


def main(argv: list[str] | None = None) -> None:
    os.umask(0o077)  # every file qorch makes is its account's alone (see adapters/private_files)
    parser = argparse.ArgumentParser(prog="qorch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API (and a worker unless --no-worker)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", help="default: $QORCH_DATA_DIR or ./qorch-data")
    serve.add_argument("--no-worker", action="store_true", help="do not execute jobs here")

    worker = commands.add_parser("worker", help="execute jobs only (no HTTP)")
    worker.add_argument("--data-dir")

    mcp = commands.add_parser("mcp", help="serve MCP over stdio for a local AI agent")
    mcp.add_argument("--data-dir")
    who = mcp.add_mutually_exclusive_group()
    who.add_argument("--key", help="act as this API key's user (default: $QORCH_API_KEY)")
    who.add_argument("--user", help="act as this local user, created if missing (default: local)")
    mcp.add_argument("--no-worker", action="store_true", help="do not execute jobs here")

    replay = commands.add_parser(
        "replay",
        help="rebuild the read models from the event log and compare them with the live ones; "
        "exits 1 when they differed (the live views are then replaced; stop servers first)",
    )
    replay.add_argument("--data-dir")

    users = commands.add_parser("users", help="manage users")
    user_commands = users.add_subparsers(dest="user_command", required=True)
    for name, text in (
        ("create", "create a user and print its API key"),
        (
            "rotate-key",
            "issue a user a new API key (printed once); the old key stops working, the user "
            "and their objects stay",
        ),
        (
            "revoke",
            "revoke a user's API key: 401 everywhere, dashboard sessions end (rotate-key "
            "issues a new one)",
        ),
    ):
        command = user_commands.add_parser(name, help=text)
        who_help = "the new user's name" if name == "create" else "the user's name, or their id"
        command.add_argument("name", help=who_help)
        command.add_argument("--data-dir")

    budget_cli.add_parser(commands)
    usage_cli.add_parser(commands)
    client_cli.add_parsers(commands)

    db = commands.add_parser("db", help="manage the event store")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    init = db_commands.add_parser(
        "init",
        help="create the event store's tables (once, before servers and workers start; "
        "required on PostgreSQL, harmless to repeat)",
    )
    init.add_argument("--data-dir")

    args = parser.parse_args(argv)
    if args.command in client_cli.COMMANDS:  # a client of a server: no data directory
        sys.exit(client_cli.run(args))
    try:
        settings = Settings().with_overrides(
            data_dir=getattr(args, "data_dir", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
        )
    except ValidationError as error:
        print(f"qorch: {error}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from qorch.bootstrap import TablesMissing, check_event_store, init_event_store

    if args.command == "db":
        print(f"event store ready: {init_event_store(settings)}")
        return
    try:
        check_event_store(settings)
    except TablesMissing as error:
        print(f"qorch {args.command}: {error}", file=sys.stderr)
        sys.exit(2)
    if args.command == "serve":
        run_server(settings.with_overrides(run_worker=not args.no_worker))
    elif args.command == "worker":
        run_worker(settings)
    elif args.command == "mcp":
        key = None if args.user else args.key or settings.api_key or None
        mcp_settings = settings.with_overrides(run_worker=not args.no_worker)
        sys.exit(run_mcp_stdio(mcp_settings, key, args.user))
    elif args.command == "replay":
        sys.exit(replay_views(settings))
    elif args.command == "users" and args.user_command == "create":
        create_user(settings, args.name)
    elif args.command == "users":
        sys.exit(change_key(settings, args.name, rotate=args.user_command == "rotate-key"))
    elif args.command == "budget":
        sys.exit(budget_cli.run(settings, args))
    elif args.command == "usage":
        sys.exit(usage_cli.run(settings, args))


def run_server(settings: Settings) -> None:
    import uvicorn

    from qorch.bootstrap import open_application
    from qorch.http.app import create_app

    app = open_application(settings)
    try:
        if not app.has_users():
            _, key = app.register_user("local")
            print("No users yet: created user 'local'. Its API key (shown once):", flush=True)
            print(key, flush=True)
    finally:
        app.close()
    logging.getLogger("uvicorn.access").addFilter(RedactKeys())
    print(
        f"qorch serving on http://{settings.host}:{settings.port} (data: {settings.data_dir})",
        flush=True,
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


def run_worker(settings: Settings) -> None:
    from qorch.bootstrap import (
        open_application,
        open_catalogue,
        open_deliverer,
        open_executor,
        open_registry,
    )

    registry = open_registry(settings)
    app = open_application(settings, open_catalogue(settings, registry))
    executor = open_executor(settings, app, registry)
    print(f"qorch worker {executor.worker_id} (data: {settings.data_dir})", flush=True)

    async def run_until_signalled() -> None:
        # SIGTERM or Ctrl-C: stop claiming and release held jobs (see Executor.run).
        async with anyio.create_task_group() as tg:
            tg.start_soon(executor.run)
            tg.start_soon(open_deliverer(settings, app).run)  # webhooks
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    tg.cancel_scope.cancel()
                    break

    try:
        anyio.run(run_until_signalled)
    finally:
        app.close()


def run_mcp_stdio(settings: Settings, key: str | None, user: str | None) -> int:
    """MCP over stdio; stdout carries the protocol, so everything else goes to stderr."""
    from qorch.http.mcp_stdio import UnknownKey, serve_stdio

    try:
        anyio.run(serve_stdio, settings, key, user)
    except UnknownKey as error:
        print(f"qorch mcp: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def replay_views(settings: Settings) -> int:
    """Rebuilds the views from the whole log, checks them against the live ones, repairs."""
    import gc

    from qorch.bootstrap import open_application, rebuilt_views
    from qorch.projections.database import remove_database

    app = open_application(settings)
    rebuilt_path = settings.views_path.with_name("views.rebuilt.sqlite")
    remove_database(rebuilt_path)
    try:
        # A replay makes millions of short-lived objects (events, documents) and no cycles: the
        # cycle collector would only scan them, and all that was imported, again and again.
        gc.freeze()
        gc.disable()
        started = time.perf_counter()
        try:
            rebuilt, position = rebuilt_views(app, rebuilt_path, from_scratch=True)
        finally:
            gc.enable()
        seconds = time.perf_counter() - started
        print(
            f"replayed {position} events in {seconds:.3f} s "
            f"({position / max(seconds, 1e-9):,.0f} events/s)"
        )
        if settings.views_path.exists():
            live, _ = rebuilt_views(app, settings.views_path)  # caught up to the same position
            equal = live.dump() == rebuilt.dump()
            live.close()
        else:
            equal = False
        rebuilt.close()
        if equal:
            print("rebuilt views equal the live views")
            remove_database(rebuilt_path)
            return 0
        print("live views were missing or differed: replaced them with the rebuilt views")
        remove_database(settings.views_path)
        os.replace(rebuilt_path, settings.views_path)
        return 1
    finally:
        app.close()


def create_user(settings: Settings, name: str) -> None:
    from qorch.bootstrap import open_application

    app = open_application(settings)
    try:
        user_id, key = app.register_user(name)
    finally:
        app.close()
    print(f"created user {name!r} ({user_id}); API key:")
    print(key)


def change_key(settings: Settings, who: str, rotate: bool) -> int:
    """`users rotate-key` (prints the new key once) or `users revoke`, for the user with this
    name (it must be unique) or id."""
    from qorch.bootstrap import open_application

    app = open_application(settings)
    try:
        user = one_user(app, who, "qorch users")
        if user is None:
            return 2
        if rotate:
            key = app.rotate_key(user.id)
            print(f"new API key of {user.name!r} ({user.id}); the old key no longer works:")
            print(key)
        else:
            app.revoke_key(user.id)
            print(f"revoked the API key of {user.name!r} ({user.id}); rotate-key issues a new one")
        return 0
    finally:
        app.close()


def one_user(app: Qorch, who: str, command: str) -> User | None:
    """The user with this name (it must be unique) or id; None, said on stderr, otherwise."""
    from uuid import UUID

    users = app.users_named(who)
    if not users:
        with contextlib.suppress(ValueError):
            user = app.find_user(UUID(who))
            users = [user] if user is not None else []
    if len(users) != 1:
        problem = "no user" if not users else f"{len(users)} users"
        ids = "".join(f"\n  {user.id}" for user in users)
        print(f"{command}: {problem} named {who!r}; give a user id{ids}", file=sys.stderr)
        return None
    return users[0]


if __name__ == "__main__":
    main()

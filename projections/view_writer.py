"""A process that writes rows into a new views file for the processes that apply the log.

A rebuild spends a third of its time in SQLite: inserting rows, building indexes, committing. The
writer does that on its own while the projectors go on reading and applying the log. It imports
nothing of qorch's but this module (it starts in tens of milliseconds) and holds one transaction
for the whole rebuild: nothing is visible in the file before `finish` commits, and a writer that
stops early leaves a file to be thrown away.

Each projector sends, in its own order: `write` (statements and their rows, run in order), `read`
(one row of a SELECT, answered after every write it sent before). A second projector ends with
`done` and what it tallied for the first (`tallies`), which ends with `finish` (commit, then a
script: the indexes). The first failure, or a second projector that stops without `done`, rolls
the transaction back; later writes are ignored and the next answer is the error.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any, cast

Statements = list[tuple[str, list[tuple[Any, ...]]]]

SETUP = (
    "PRAGMA journal_mode=MEMORY",  # a file thrown away if the rebuild fails needs no journal
    "PRAGMA synchronous=OFF",
    "PRAGMA temp_store=MEMORY",  # where savepoints keep what they would undo
    "PRAGMA cache_size=-262144",  # KiB: the whole new file stays in memory until it is written
)
"""How a new views file is filled (here, and by `ViewDatabase.rebuilding` in one process)."""


class WriterFailed(Exception):
    """The writer could not write what it was sent (its error), or stopped."""


class ViewWriter:
    """A projector's end of its connection to the writer."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def write(self, statements: Statements) -> None:
        self._send(("write", statements))

    def read(self, select: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        self._send(("read", select, params))
        row: tuple[Any, ...] | None = self._answer()
        return row

    def done(self, tally: Any) -> None:
        """A second projector's last word: what it tallied for the first."""
        self._send(("done", tally))

    def tallies(self) -> list[Any]:
        """What the second projectors tallied, once they are all done."""
        tallies: list[Any] = self._answer_to(("tallies",))
        return tallies

    def finish(self, script: str) -> None:
        """Commits everything written, then runs `script`."""
        self._answer_to(("finish", script))

    def _answer_to(self, message: tuple[Any, ...]) -> Any:
        self._send(message)
        return self._answer()

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self.connection.send(message)
        except OSError as error:
            raise WriterFailed(f"the view writer stopped: {error}") from error

    def _answer(self) -> Any:
        try:
            kind, value = self.connection.recv()
        except (EOFError, OSError) as error:
            raise WriterFailed(f"the view writer stopped: {error!r}") from error
        if kind == "error":
            raise WriterFailed(value)
        return value


class WriterProcess:
    """Starts the writer on the views file at `path` (no other connection may be open on it):
    `first` is the first projector's end; `others` one end per second projector, to hand on."""

    def __init__(self, path: str, drop: list[str], others: int = 0) -> None:
        ends = [Pipe() for _ in range(1 + others)]
        theirs = [end.fileno() for _, end in ends]
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import serve; serve({theirs!r})"],
            pass_fds=theirs,
            stdin=subprocess.DEVNULL,
        )
        for _, end in ends:
            end.close()
        self.first = ViewWriter(ends[0][0])
        self.others = [mine for mine, _ in ends[1:]]
        self.first.connection.send(("begin", path, drop))

    def close(self) -> None:
        """Stops the writer (at once, if it has not finished: the file is then unusable)."""
        for connection in (self.first.connection, *self.others):
            connection.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class _Writer:
    def __init__(self, first: Connection, others: list[Connection]) -> None:
        self.first = first
        self.waiting = set(others)
        self.open = [first, *others]
        self.db: sqlite3.Connection | None = None
        self.failed: str | None = None
        self.tallies: list[Any] = []
        self.asked_for_tallies = False

    def serve(self) -> None:
        try:
            kind, path, drop = self.first.recv()  # before any projector's writes
            self.db = _begin(path, drop)
        except Exception as error:
            self._fail(f"{type(error).__name__}: {error}")
        while True:
            for connection in cast(list[Connection], wait(self.open)):
                try:
                    message = connection.recv()
                except EOFError:
                    if connection is self.first:
                        return  # the transaction ends with the process, uncommitted
                    self.open.remove(connection)
                    if connection in self.waiting:
                        self._fail("a second projector stopped before it was done")
                        self.waiting.discard(connection)
                else:
                    if self._handle(connection, message):
                        return
                if self.asked_for_tallies and not self.waiting:
                    self.asked_for_tallies = False
                    self._answer(self.first, "tallies", self.tallies)

    def _handle(self, connection: Connection, message: tuple[Any, ...]) -> bool:
        """Acts on one message; True once the rebuild is committed."""
        kind = message[0]
        try:
            if kind == "write":
                if self.failed is None:
                    assert self.db is not None
                    for statement, rows in message[1]:
                        self.db.executemany(statement, rows)
            elif kind == "read":
                assert self.db is not None and self.failed is None, self.failed
                row = self.db.execute(message[1], message[2]).fetchone()
                self._answer(connection, "row", None if row is None else tuple(row))
            elif kind == "done":
                self.tallies.append(message[1])
                self.waiting.discard(connection)
            elif kind == "tallies":
                self.asked_for_tallies = True
            elif kind == "finish":
                assert self.db is not None and self.failed is None, self.failed
                self.db.execute("COMMIT")
                self.db.executescript(message[1])
                self.db.close()
                self._answer(connection, "done", None)
                return True
        except Exception as error:
            self._fail(f"{type(error).__name__}: {error}")
            if kind in ("read", "finish"):
                self._answer(connection, "error", self.failed)
        return False

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            if self.db is not None and self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def _answer(self, connection: Connection, kind: str, value: Any) -> None:
        if self.failed is not None and kind != "error":
            kind, value = "error", self.failed
        connection.send((kind, value))


def serve(fds: list[int]) -> None:
    """The writer process: the first projector's connection, then the others'."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the projectors: this sees EOF
    first, *others = (Connection(fd) for fd in fds)
    _Writer(first, others).serve()


def _begin(path: str, drop: list[str]) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in SETUP:
        db.execute(pragma)
    db.execute("BEGIN IMMEDIATE")
    for statement in drop:
        db.execute(statement)
    return db

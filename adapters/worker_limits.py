"""Runs one job's call in a worker process under a memory limit (RLIMIT_DATA).

The limit is the job's allowance on top of what the idle worker already holds (imported
libraries, thread arenas: over a GiB of address space on some machines), and it is lifted again
when the call returns, since the worker process is reused for the next job. An allocation that
would pass the limit fails (MemoryError in Python, an allocation error in Aer); it is answered as
ProviderError("memory_limit"). A process that crashes instead leaves a note in `near_path` when
its data segment was within 10 % of the limit, so the executor can tell a memory crash from
another one.
"""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Callable
from typing import Any

from qorch.domain.execution import ProviderError

ALLOCATION_FAILURES = (
    "MemoryError",
    "bad_alloc",
    "Cannot allocate memory",
    "Insufficient memory",
    "Unable to allocate",
    "out of memory",
)
WATCH_INTERVAL = 0.02
PAGE = os.sysconf("SC_PAGE_SIZE")


_statm: tuple[int, int] | None = None
"""(pid, descriptor) of /proc/self/statm, kept open: one pread a reading instead of an open,
a read and a close."""
_opening = threading.Lock()


def data_bytes() -> int:
    """The process's data segment (heap, anonymous mappings, stacks), as RLIMIT_DATA counts it."""
    global _statm
    kept = _statm
    if kept is None or kept[0] != os.getpid():  # (a forked child reads its own)
        with _opening:
            if _statm is None or _statm[0] != os.getpid():
                _statm = (os.getpid(), os.open("/proc/self/statm", os.O_RDONLY))
            kept = _statm
    return int(os.pread(kept[1], 256, 0).split()[5]) * PAGE


def memory_limit_error(limit_mb: int) -> ProviderError:
    return ProviderError(
        "memory_limit",
        f"the job needed more than its memory limit of {limit_mb} MiB and was stopped (fewer "
        "qubits, a sparser method such as matrix_product_state, or fewer circuits, parameter "
        "sets or shots per job fit in less)",
        retryable=False,
    )


def is_allocation_failure(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, MemoryError):
            return True
        text = f"{type(seen).__name__}: {seen}"
        if any(marker.lower() in text.lower() for marker in ALLOCATION_FAILURES):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_prepared: set[Callable[[], Any]] = set()


class _Watcher:
    """One thread per worker process, started by its first limited call and kept: it reads the
    data segment every WATCH_INTERVAL while a call runs (starting a thread per call cost each
    job 0.1-0.5 ms), and notes a call that comes within 10 % of its limit."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.watched: tuple[int, str] | None = None
        """The running call's (limit in bytes, note path); None between calls."""
        self.polling = False
        """The thread reads again within WATCH_INTERVAL: a new call need not wake it."""
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def watch(self, limit: int, near_path: str) -> None:
        with self.changed:
            self.watched = (limit, near_path)
            if not self.polling:
                self.changed.notify()

    def stop(self) -> None:
        """Once this returns, no note is written for the call that was watched."""
        with self.changed:
            self.watched = None

    def _run(self) -> None:
        with self.changed:
            while True:
                if self.watched is None:
                    self.polling = False
                    self.changed.wait()
                    continue
                self.polling = True
                self.changed.wait(WATCH_INTERVAL)
                watched = self.watched
                if watched is not None and data_bytes() >= 0.9 * watched[0]:
                    _note(watched[1])
                    self.watched = None  # one note per call


_watcher = _Watcher()


def call_with_memory_limit(
    limit_mb: int,
    near_path: str,
    prepare: Callable[[], Any] | None,
    function: Callable[..., Any],
    *args: Any,
) -> Any:
    """Runs in the worker process: `function(*args)` with at most `limit_mb` MiB more data.

    `prepare` (once per process, outside the limit) pays what every job of the worker shares:
    imports and first-use caches, which must not count against the first job that runs there.
    """
    if prepare is not None and prepare not in _prepared:
        prepare()
        _prepared.add(prepare)
    _watcher.start()  # before the limit is measured: its stack is part of the baseline
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = data_bytes() + limit_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    _watcher.watch(limit, near_path)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        return function(*args)
    except (MemoryError, ProviderError) as error:
        if is_allocation_failure(error):
            raise memory_limit_error(limit_mb) from None
        raise
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
        _watcher.stop()


def _note(near_path: str) -> None:
    try:
        with open(near_path, "w") as note:
            note.write(str(data_bytes()))
    except OSError:
        pass

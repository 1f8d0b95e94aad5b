"""Who a worker is, whether it still lives, and how a job's work leaves the event loop."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, cast

import anyio
import anyio.to_process

from qorch.adapters.worker_limits import is_allocation_failure
from qorch.domain.execution import ProviderError

RunInWorker = Callable[..., Awaitable[Any]]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claimant_is_dead(worker_id: str | None) -> bool:
    """True when the claimant was a process on this host that no longer runs."""
    if not worker_id:
        return False
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


async def run_in_process(function: Callable[..., Any], *args: Any) -> Any:
    # Simulation is CPU-bound and partly holds the GIL (transpiling): a process keeps the API
    # responsive. cancellable=True kills the worker process when a job is cancelled.
    limiter = cast(anyio.CapacityLimiter, _Promptly())
    return await anyio.to_process.run_sync(function, *args, cancellable=True, limiter=limiter)


class _Promptly:
    """anyio's limit on worker processes, taken without a turn of the event loop while a
    process is free: entering the limiter itself lets every ready task run first (an API
    answer, 0.1-0.4 ms), and only then is the job written to the worker."""

    def __init__(self) -> None:
        self.limiter = anyio.to_process.current_default_process_limiter()

    async def __aenter__(self) -> None:
        try:
            self.limiter.acquire_nowait()
        except anyio.WouldBlock:
            await self.limiter.acquire()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.limiter.release()


def run_each(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """Runs in a worker process: several small jobs' calls, one after the other, in one trip.

    A job's own ProviderError is its answer (False, error); anything else — an allocation past
    the memory limit included — fails the whole call, and the executor runs its jobs one by one.
    """
    answers: list[tuple[bool, Any]] = []
    for function, args in calls:
        try:
            answers.append((True, function(*args)))
        except ProviderError as error:
            if is_allocation_failure(error):
                raise
            answers.append((False, error))
    return answers

"""Parsing where a runaway cannot hurt the API process: a small pool of parser processes.

Circuit text from users is parsed (OpenQASM, QPY) in worker processes that import Qiskit once
and then serve parses one at a time, each with an address-space limit (RLIMIT_AS: the worker's
size once started plus `memory_mb`) and a time bound per call: a worker that takes longer is
killed and replaced, one that runs out of memory exits and is replaced. The API process only
ever holds the source text and the small answer. The size checks (adapters/circuit_limits.py)
make the known bombs fail fast; this bounds whatever they miss.

Workers are plain subprocesses (not multiprocessing), so they never re-import the API's main
module and never inherit its threads or open files. Configured once per process by `configure`
(bootstrap.py, from settings); `call` runs a module-level function in a worker and returns its
(picklable) result.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from qorch.domain.errors import Busy
from qorch.domain.requests import Limits

log = logging.getLogger("qorch.parsing")

T = TypeVar("T")

START_TIMEOUT = 120.0
"""Seconds a new parser process may take to import Qiskit (a cold start on a busy machine)."""


@dataclass(frozen=True)
class SandboxConfig:
    workers: int = 2
    """Parser processes (QORCH_PARSE_WORKERS); each holds Qiskit, about 200 MB."""
    timeout: float = 15.0
    """Seconds one parse may take before its process is killed (QORCH_PARSE_TIMEOUT_SECONDS)."""
    memory_mb: int = 1024
    """Memory one parse may add to a parser process (QORCH_PARSE_MEMORY_MB)."""


class SandboxFailure(Exception):
    """The parse was stopped: it took too long, ran out of memory, or crashed its process."""


_ENTRY = "from qorch.adapters.circuit_sandbox import serve; serve()"


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(path for path in sys.path if path),
            # One thread each: Qiskit's Rust pool and BLAS would otherwise reserve address space
            # per core, which RLIMIT_AS counts.
            "RAYON_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "RUST_BACKTRACE": "0",  # a refused allocation aborts with one line, not a page
        }
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _ENTRY, str(to_child), str(from_child), str(memory_mb)],
                pass_fds=(to_child, from_child),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            os.close(to_child)
            os.close(from_child)
        self.requests = Connection(from_parent, readable=False)
        self.answers = Connection(to_parent, writable=False)
        try:
            ready = self.answers.poll(START_TIMEOUT) and self.answers.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise RuntimeError("a parser process did not start (see its output above)")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.requests.close()
        self.answers.close()
        if self.alive():
            self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            log.warning("parser process %s did not exit after SIGKILL", self.process.pid)


PARSING_FOR: ContextVar[str | None] = ContextVar("qorch_parsing_for", default=None)
"""Whose circuit is being parsed (set by the entrypoints): each one holds one parser at a time,
so a user sending slow circuits waits for their own parses and never holds the whole pool."""
WAITING_PER_OWNER = 8
"""Parses one owner may have waiting behind their running one (a client submitting from several
threads at once); more are refused at once (Busy, 429), so one user's flood never ties up the
API's threads (anyio's 40) either."""


class ParserPool:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False
        self._owners: dict[str, tuple[threading.Lock, int]] = {}

    def call(self, function: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """`function(*args)` in a parser process, within `timeout` (default: the pool's)."""
        owner = PARSING_FOR.get()
        if owner is None:
            return self._call(function, args, timeout or self.config.timeout)
        with self._owners_lock(owner):
            return self._call(function, args, timeout or self.config.timeout)

    @contextlib.contextmanager
    def _owners_lock(self, owner: str) -> Iterator[None]:
        with self._lock:
            lock, users = self._owners.get(owner, (threading.Lock(), 0))
            if users > WAITING_PER_OWNER:
                raise Busy(
                    "your earlier circuits are still being parsed; send this one when they are "
                    "done",
                    retry_after=1.0,
                )
            self._owners[owner] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._owners[owner]
                if users == 1:
                    del self._owners[owner]
                else:
                    self._owners[owner] = (lock, users - 1)

    def _call(self, function: Callable[..., T], args: tuple[Any, ...], timeout: float) -> T:
        worker = self._acquire()
        healthy = False
        try:
            worker.requests.send((function, args))
            if not worker.answers.poll(timeout):
                raise SandboxFailure(
                    f"parsing took longer than {timeout:g} s, the limit "
                    "(QORCH_PARSE_TIMEOUT_SECONDS)"
                )
            try:
                status, value = worker.answers.recv()
            except (EOFError, OSError):
                raise SandboxFailure(
                    f"parsing needed more than {self.config.memory_mb} MB of memory, the limit "
                    "(QORCH_PARSE_MEMORY_MB), or crashed the parser"
                ) from None
            if status == "memory":
                raise SandboxFailure(
                    f"parsing needed more than {self.config.memory_mb} MB of memory, the limit "
                    "(QORCH_PARSE_MEMORY_MB)"
                )
            healthy = True
            if status == "error":
                raise SandboxFailure(f"the parser failed: {value}")
            return value  # type: ignore[no-any-return]
        finally:
            self._release(worker, healthy)

    def warm(self) -> None:
        """Starts the workers in the background, so the first submit does not wait for them."""

        def start() -> None:
            try:
                workers = [self._acquire() for _ in range(self.config.workers)]
            except Exception:  # noqa: BLE001 - warming is an optimisation only
                log.exception("could not start the parser processes")
                return
            for worker in workers:
                self._release(worker, True)

        threading.Thread(target=start, name="qorch-parser-warm", daemon=True).start()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return

    def _acquire(self) -> _Worker:
        while True:
            worker = self._next_worker()
            if worker.alive():
                return worker
            self._release(worker, False)  # died while idle (killed from outside): replace it

    def _next_worker(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            start = self._started < max(1, self.config.workers)
            if start:
                self._started += 1
        if start:
            try:
                return _Worker(self.config.memory_mb)
            except BaseException:
                with self._lock:
                    self._started -= 1
                raise
        return self._idle.get()

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if healthy and not self._closed and worker.alive():
            self._idle.put(worker)
            return
        worker.kill()
        with self._lock:
            self._started -= 1
        # Whoever waits for a worker may now start one: wake one waiter with a fresh worker.
        if not self._closed:
            threading.Thread(target=self._replace, name="qorch-parser-replace", daemon=True).start()

    def _replace(self) -> None:
        with self._lock:
            if self._started >= max(1, self.config.workers):
                return
            self._started += 1
        try:
            self._idle.put(_Worker(self.config.memory_mb))
        except Exception:  # noqa: BLE001 - the next call starts one instead
            with self._lock:
                self._started -= 1
            log.exception("could not restart a parser process")


def serve() -> None:
    """A parser process (started by `_Worker`): runs what it is sent until its parent goes."""
    requests = Connection(int(sys.argv[1]), writable=False)
    answers = Connection(int(sys.argv[2]), readable=False)
    _die_with_parent()
    import qorch.adapters.circuit_facts
    import qorch.adapters.qasm
    import qorch.adapters.qpy  # noqa: F401 - imported once, before the memory limit

    _limit_memory(int(sys.argv[3]))
    try:
        answers.send("ready")
    except OSError:  # the pool closed while this process started
        return
    while True:
        try:
            function, args = requests.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", function(*args))
        except MemoryError:
            answer = ("memory", None)
        except Exception as error:  # noqa: BLE001 - reported to the caller
            answer = ("error", f"{type(error).__name__}: {error}")
        try:
            answers.send(answer)
        except (MemoryError, OSError):
            return
        if answer[0] == "memory":
            return  # a process that hit its limit may be in a bad state: the pool replaces it


def _die_with_parent() -> None:
    """Exits when the API process is gone, even in the middle of a parse. (Not
    PR_SET_PDEATHSIG: that fires when the *thread* that started the process ends.)"""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="qorch-parser-watch", daemon=True).start()


def _limit_memory(memory_mb: int) -> None:
    current = _address_space_bytes()
    limit = current + memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


# --- the process-wide configuration --------------------------------------------------------

_configured: tuple[Limits, SandboxConfig] = (Limits(), SandboxConfig())
_pool: ParserPool | None = None
_pool_lock = threading.Lock()


def configure(limits: Limits, config: SandboxConfig) -> bool:
    """Sets the limits and pool size used from now on; True when they changed."""
    global _configured, _pool
    with _pool_lock:
        if _configured == (limits, config):
            return False
        _configured = (limits, config)
        if _pool is not None and _pool.config != config:
            _pool.close()
            _pool = None
        return True


def limits() -> Limits:
    return _configured[0]


def pool() -> ParserPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ParserPool(_configured[1])
        return _pool


def call(function: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
    return pool().call(function, *args, timeout=timeout)


@atexit.register
def _close() -> None:
    if _pool is not None:
        _pool.close()

"""Shared helpers of the benchmarks: a real qorch server subprocess, the Bell circuit, the
command line.

Every benchmark starts its own `qorch serve` on a free loopback port with a temporary data
directory, reads the API key the server prints once on its first start, waits for /health,
and stops the whole process group (server and its worker processes) at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn

import httpx
from rows import Row as Row
from rows import Summary as Summary
from rows import summary as summary

ROOT = Path(__file__).resolve().parent.parent
BELL_QASM = (
    'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; '
    "h q[0]; cx q[0],q[1]; measure q -> c;"
)
RUN_PATH = "/ai/run_circuits_on_qpu_or_simulator"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


SINGLE_USER_ENV = {
    "QORCH_SUBMIT_RATE": "0",
    "QORCH_MAX_QUEUED_PER_USER": "0",
    "QORCH_MAX_RUNNING_PER_USER": "1000",
    "QORCH_MAX_STORED_MB_PER_USER": "0",
}
"""The benchmarks measure the engine with one user flooding it: the per-user fair-share limits
(rate, open jobs, running slots), which exist to protect other users, are lifted."""


class Server:
    """`qorch serve` in its own session; use as a context manager."""

    def __init__(
        self,
        *,
        poll_interval: str | None = None,
        log_level: str = "WARNING",
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = ""
        self.poll_interval = poll_interval
        self.log_level = log_level
        self._tmp = tempfile.TemporaryDirectory(prefix="qorch-bench-")
        self.data_dir = data_dir or Path(self._tmp.name) / "data"
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[str] | None = None
        self.startup_seconds = 0.0
        self.output: list[str] = []

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        started = time.perf_counter()
        env = {
            **os.environ,
            "QORCH_LOG_LEVEL": self.log_level,
            **SINGLE_USER_ENV,
            **self.extra_env,
        }
        if self.poll_interval is not None:
            env["QORCH_POLL_INTERVAL"] = self.poll_interval
        else:
            env.pop("QORCH_POLL_INTERVAL", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qorch",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        lines: list[str] = []
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("qorch server exited:\n" + "".join(lines))
            lines.append(line)
            if "shown once" in line:
                self.key = self.process.stdout.readline().strip()
            if line.startswith("qorch serving on"):
                break
        if not self.key:
            raise RuntimeError("qorch server printed no API key:\n" + "".join(lines))
        # Keep draining the server's output so that a chatty server never blocks on a full pipe.
        self.output = lines
        threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    self.startup_seconds = time.perf_counter() - started
                    return
            time.sleep(0.1)
        raise RuntimeError("qorch server did not become healthy within 60 s")

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, wait=10)
        self._tmp.cleanup()

    def _drain(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                if len(self.output) < 10_000:
                    self.output.append(line)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.key}

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def async_client(self, timeout: float = 120.0) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        return httpx.AsyncClient(
            base_url=self.url, headers=self.headers, timeout=timeout, limits=limits
        )

    def create_experiment(self, name: str) -> str:
        with self.client() as client:
            answer = client.post("/experiments", json={"name": name})
            answer.raise_for_status()
            experiment_id: str = answer.json()["id"]
            return experiment_id


def bell_body(experiment_id: str, shots: int) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "device_id": "aer_simulator",
        "shots": shots,
        "circuits_qasm": [BELL_QASM],
    }


FINAL = ("Done", "Failed", "Cancelled")


def until_final(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job's document once final, long-polled for at most 15 minutes."""
    job: dict[str, Any] = {}
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and job.get("status") not in FINAL:
        job = client.get(f"/jobs/{job_id}", params={"wait": 30}).json()
    return job


def transpiled_bell(**options: Any) -> tuple[Any, Any]:
    """The Bell circuit transpiled for an AerSimulator(**options), and that simulator.

    `max_parallel_threads=1` gives a reference without OpenMP: on a busy 2-core machine Aer's
    default threading makes a tiny circuit several times slower.
    """
    from qiskit import QuantumCircuit, transpile
    from qiskit_aer import AerSimulator

    circuit = QuantumCircuit.from_qasm_str(BELL_QASM)
    simulator = AerSimulator(**options)
    return transpile(circuit, simulator), simulator


def stop_group(process: subprocess.Popen[str], sig: int = signal.SIGTERM, wait: float = 15) -> None:
    """Stops a process started in its own session, with its children (worker processes)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def bench_main(
    doc: str, run: Callable[..., Summary], quick: str, poll: bool = False, **counts: str
) -> NoReturn:
    """Runs a benchmark alone from its command line: --quick (help `quick`), an integer option
    for each of `run`'s parameters named in `counts` (its help the value: `jobs` is --jobs, `n`
    is -n) and optionally --poll-interval, passed to `run` by name; exits 1 when the run saw
    problems."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    for name, text in counts.items():
        parser.add_argument(f"-{name}" if len(name) == 1 else f"--{name}", type=int, help=text)
    if poll:
        parser.add_argument("--poll-interval", help="QORCH_POLL_INTERVAL for the server")
    sys.exit(1 if run(**vars(parser.parse_args())).problems else 0)


def machine_note() -> str:
    """CPU count and load average: other work on a small machine skews every timing."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


def title(line: str) -> None:
    """A benchmark's first line, then the machine it runs on."""
    print(line)
    print(f"    {machine_note()}")


@contextlib.contextmanager
def served(poll_interval: str | None) -> Iterator[Server]:
    """`qorch serve` running its own worker, its start-up time printed."""
    with Server(poll_interval=poll_interval) as server:
        polls = f"QORCH_POLL_INTERVAL={poll_interval or 'default (0.2)'}"
        print(f"    server up in {server.startup_seconds:.2f} s ({polls})")
        yield server


REPEATS = "interleaved repeats of each side"
"""The help of --repeats in the benchmarks that alternate qorch and the baseline."""

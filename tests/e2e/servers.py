"""Real qorch processes for end-to-end tests: `qorch serve` and `qorch worker` subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self, data_dir: Path, port: int, *extra_args: str, env: dict[str, str] | None = None
    ) -> None:
        self.env = env or {}
        self.output: list[str] = []
        """Everything the server printed (its log), collected while it runs."""
        self.data_dir = data_dir
        self.port = port
        self.extra_args = extra_args
        self.url = f"http://127.0.0.1:{port}"
        self.key = ""
        self.keys_printed = 0
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {**os.environ, **TEST_ENV, **self.env}
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
            start_new_session=True,
        )
        assert self.process.stdout is not None
        lines: list[str] = []
        while True:
            line = self.process.stdout.readline()
            assert line, "server exited:\n" + "".join(lines)
            lines.append(line)
            if "shown once" in line:
                self.key = self.process.stdout.readline().strip()
                self.keys_printed += 1
            if line.startswith("qorch serving on"):
                break
        self.output.extend(lines)
        threading.Thread(target=self._collect_output, daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("server did not become healthy")

    def _collect_output(self) -> None:
        # Also keeps the pipe drained: a full pipe would block the server's logging.
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)  # the server only; its worker processes live on
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, self.url + path, headers={"Authorization": self.key}, timeout=130, **kwargs
        )  # type: ignore[arg-type]


TEST_ENV = {
    "QORCH_POLL_INTERVAL": "0.05",
    "QORCH_LEASE_SECONDS": "30",
    "QORCH_LOG_LEVEL": "WARNING",
}


def start_worker(data_dir: Path) -> subprocess.Popen[str]:
    """`qorch worker` alone: it executes jobs recorded by any API process on the same store."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qorch", "worker", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **TEST_ENV},
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # log lines (warnings) may come first
        if line.startswith("qorch worker"):
            return process
    raise AssertionError("the worker exited before it started")


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

"""A person runs circuits with the `qorch` command against a real `qorch serve`: JSON for
scripts, a live status line and a histogram in a terminal, expectation tables, and exit
statuses a script can act on."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.client.conftest import FOREVER, HELD_DEVICE, SLOW_DEVICE, TIME_LIMITS, running_qorch
from tests.conftest import BELL_QASM2, RY_MEASURED
from tests.e2e.servers import Server, free_port

pytestmark = pytest.mark.slow
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(
        tmp_path_factory.mktemp("qorch-cli"),
        free_port(),
        env={"QORCH_JOB_TIME_LIMITS": TIME_LIMITS},
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "bell.qasm").write_text(BELL_QASM2)
    (tmp_path / "ry.qasm").write_text(RY_MEASURED)
    (tmp_path / "forever.qasm").write_text(FOREVER)
    return tmp_path


class Reachable(Protocol):
    url: str
    key: str


@dataclass
class OldServer:
    """A qorch from before GET /events (served in this process)."""

    url: str
    key: str


def environment(server: Reachable, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QORCH_")}
    return {
        **env,
        "QORCH_URL": server.url,
        "QORCH_API_KEY": server.key,
        "QORCH_CONFIG": "/nonexistent/qorch.toml",  # never a developer's own config file
        **extra,
    }


def qorch(
    server: Reachable, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qorch", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment(server, **env),
        timeout=120,
    )


def json_of(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def in_terminal(server: Server, *args: str, cwd: Path) -> tuple[str, int]:
    """Runs `qorch ARGS` on a pseudo-terminal; everything it drew there, and its exit status."""
    env = environment(server, TERM="xterm-256color", COLUMNS="100", LINES="40")
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command, its output the terminal's
        try:
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "qorch", *args], env)
        finally:
            os._exit(127)
    drawn = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the command ended and closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return drawn.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def test_run_wait_json_prints_the_finished_job_for_scripts(server: Server, files: Path):
    done = qorch(server, "run", "bell.qasm", "--shots", "300", "--wait", "--json", cwd=files)

    assert done.returncode == 0, done.stderr
    job = json_of(done)
    assert job["status"] == "Done" and job["device_id"] == "aer_simulator"
    assert sum(job["counts"][0].values()) == 300 and set(job["counts"][0]) <= {"00", "11"}
    experiment = server.call("GET", f"/experiments/{job['experiment_id']}").json()
    assert experiment["name"] == "qorch-client"

    shown = qorch(server, "show", job["id"], "--json")
    assert shown.returncode == 0 and json_of(shown)["counts"] == job["counts"]
    listed = json_of(qorch(server, "jobs", "--json", "--limit", "5"))
    assert job["id"] in [each["id"] for each in listed]
    devices = json_of(qorch(server, "devices", "--json"))
    assert "aer_simulator" in [device["id"] for device in devices]


def test_in_a_terminal_a_live_status_line_ends_in_a_histogram(server: Server, files: Path):
    drawn, status = in_terminal(server, "run", "bell.qasm", "--shots", "500", "--wait", cwd=files)

    assert status == 0, drawn
    assert "\x1b[?25l" in drawn  # the cursor hidden while the status line is redrawn in place
    text = ANSI.sub("", drawn)
    assert re.search(r"job \S{8} (Queued|Running)", text) and re.search(r"Done\s+\d+\.\d s", text)
    bars = dict(re.findall(r"^(00|11)\s+█+\s+(\d+)\s+0\.\d{4}\s*$", text, re.M))
    assert set(bars) == {"00", "11"} and sum(map(int, bars.values())) == 500, text

    args = ["run", "forever.qasm", "--device", SLOW_DEVICE, "--shots", "1", "--wait"]
    drawn, status = in_terminal(server, *args, cwd=files)  # runs until its time limit
    text = ANSI.sub("", drawn)
    assert status == 1 and re.search(r"job \S{8} Running\s+[12]\.\d s", text), text
    assert "Error time_limit" in text and re.search(r"Error\s+\d+\.\d s", text)


def test_without_wait_the_job_is_submitted_and_watch_follows_it(server: Server, files: Path):
    submitted = qorch(server, "run", "bell.qasm", "--json", cwd=files)
    job = json_of(submitted)
    assert submitted.returncode == 0 and job["status"] in ("Queued", "Running", "Done")

    watched = qorch(server, "watch", job["id"], "--json")
    assert watched.returncode == 0 and json_of(watched)["status"] == "Done"
    plain = qorch(server, "run", "bell.qasm", cwd=files)
    assert plain.returncode == 0 and re.fullmatch(r"job \S+ \w+: qorch watch \S+\n", plain.stdout)


def test_observables_and_parameter_sets_end_in_an_expectation_table(server: Server, files: Path):
    (files / "angles.csv").write_text("theta\n0.0\n3.14159265\n")
    args = ["run", "ry.qasm", "--param-file", "angles.csv", "--shots", "4000", "--wait"]
    observed = ["--observable", "Z", "--observable", "X:2.0"]

    table = qorch(server, *args, *observed, cwd=files)
    assert table.returncode == 0, table.stderr
    rows = re.findall(r"│ 0\s+│ (Z:1|X:2)\s+│ ([01])\s+│ (-?[\d.e-]+)\s+│", table.stdout)
    values = {(label, int(s)): float(value) for label, s, value in rows}
    assert values[("Z:1", 0)] == pytest.approx(1.0, abs=0.1)
    assert values[("Z:1", 1)] == pytest.approx(-1.0, abs=0.1)
    assert len(values) == 4, table.stdout
    assert re.search(r"job \S{8} Done  \d+\.\d s\n$", table.stderr)  # a plain line per status

    (files / "angles.json").write_text("[[0.0], [3.14159265]]")
    swept = qorch(server, *args[:3], "angles.json", *args[4:], "--json", cwd=files)
    job = json_of(swept)
    assert swept.returncode == 0 and len(job["counts"][0]) == 2
    assert job["counts"][0][0] == {"0": 4000} and job["counts"][0][1] == {"1": 4000}


def test_a_job_that_ends_in_error_exits_1(server: Server, files: Path):
    failed = qorch(
        server, "run", "forever.qasm", "--device", SLOW_DEVICE, "--shots", "1", "--wait", "--json",
        cwd=files,
    )  # fmt: skip

    assert failed.returncode == 1
    job = json_of(failed)
    assert job["status"] == "Error" and job["error"]["code"] == "time_limit"
    shown = qorch(server, "show", job["id"])
    assert shown.returncode == 1 and "Error time_limit" in shown.stdout


def ctrl_c_interrupts() -> None:
    """A shell that starts a command in the background (as CI runners may start pytest) ignores
    SIGINT for it, and children inherit that: the CLI under test gets Ctrl-C as a user's does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_an_interrupted_wait_leaves_the_job_and_a_cancelled_one_exits_3(
    server: Server, files: Path
):
    run = [sys.executable, "-m", "qorch", "run", "forever.qasm", "--device", HELD_DEVICE]
    waiting = subprocess.Popen(
        [*run, "--shots", "1", "--wait"],
        cwd=files, env=environment(server), stderr=subprocess.PIPE, text=True,
        preexec_fn=ctrl_c_interrupts,
    )  # fmt: skip
    try:
        job_id = _a_job_that_runs(server, HELD_DEVICE)
        waiting.send_signal(signal.SIGINT)  # Ctrl-C
        _, said = waiting.communicate(timeout=30)
    finally:
        waiting.kill()
    assert waiting.returncode == 130 and f"the job goes on: qorch watch {job_id}" in said
    assert json_of(qorch(server, "show", job_id, "--json"))["status"] == "Running"

    watching = subprocess.Popen(
        [sys.executable, "-m", "qorch", "watch", job_id, "--json"],
        env=environment(server), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        cancelled = qorch(server, "cancel", job_id, "--json")
        assert cancelled.returncode == 0 and json_of(cancelled)["status"] == "Cancelled"
        output, _ = watching.communicate(timeout=60)
    finally:
        watching.kill()
    assert watching.returncode == 3
    assert json.loads(output)["id"] == job_id and json.loads(output)["status"] == "Cancelled"
    assert qorch(server, "show", job_id).returncode == 3


def _a_job_that_runs(server: Server, device: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = json_of(qorch(server, "jobs", "--json", "--status", "Running"))
        found = [job["id"] for job in running if job["device_id"] == device]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError("the job never ran")


def test_watch_without_a_job_prints_each_change_of_the_callers_jobs(server: Server, files: Path):
    submitted, seen, status = _watch_while_submitting(server, files)

    mine = [change for change in seen if change["id"] in submitted]
    assert mine and mine[-1]["status"] == "Done", seen
    assert status == 0


def _watch_while_submitting(
    server: Reachable, files: Path
) -> tuple[set[str], list[dict[str, Any]], int]:
    """Runs `qorch watch --json` and submits Bell jobs until it prints one Done: the jobs, the
    changes printed, its exit status after Ctrl-C."""
    watcher = subprocess.Popen(
        [sys.executable, "-m", "qorch", "watch", "--json"],
        env=environment(server), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        preexec_fn=ctrl_c_interrupts,
    )  # fmt: skip
    assert watcher.stdout is not None
    submitted: set[str] = set()
    seen: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            change["id"] in submitted and change["status"] == "Done" for change in seen
        ):  # the watcher starts while the first jobs run: submit until it sees one end
            submitted.add(json_of(qorch(server, "run", "bell.qasm", "--json", cwd=files))["id"])
            while select.select([watcher.stdout], [], [], 3.0)[0]:
                seen.append(json.loads(watcher.stdout.readline()))
                if seen[-1]["status"] == "Done":
                    break
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(10)
    return submitted, seen, watcher.returncode


def test_bad_arguments_and_refusals_exit_2_with_the_reason(server: Server, files: Path):
    cases = [
        (["run", "missing.qasm"], "cannot read missing.qasm"),
        (["run", "bell.qasm", "--observable", "ZQ:1"], "expected PAULIS[:COEFFICIENT]"),
        (["run", "bell.qasm", "--observable", "ZZ:x"], "expected PAULIS[:COEFFICIENT]"),
        (["run", "bell.qasm", "--shots", "0"], "not a positive whole number"),
        (["run", "bell.qasm", "--param-file", "bell.qasm"], "bell.qasm"),
        (["run", "bell.qasm", "--observable", "ZZZ"], "observables[0][0]"),
        (["show", "no-such-job"], "404 not_found"),
    ]
    for args, reason in cases:
        refused = qorch(server, *args, cwd=files)
        assert refused.returncode == 2, (args, refused.stderr)
        assert reason in refused.stderr, (args, refused.stderr)

    keyless = qorch(server, "jobs", cwd=files, QORCH_API_KEY="")
    assert keyless.returncode == 2 and "QORCH_API_KEY" in keyless.stderr
    wrong_key = qorch(server, "jobs", QORCH_API_KEY="qk_wrong")
    assert wrong_key.returncode == 2 and "401 unauthorized" in wrong_key.stderr
    down = qorch(server, "devices", QORCH_URL=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 5 and "connection_failed" in down.stderr


def test_the_config_file_gives_the_server_and_key(server: Server, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text(f'url = "{server.url}"\napi_key = "{server.key}"\n')

    done = qorch(
        server, "devices", "--json", QORCH_URL="", QORCH_API_KEY="", QORCH_CONFIG=str(config)
    )
    assert done.returncode == 0, done.stderr
    assert "aer_simulator" in [device["id"] for device in json_of(done)]


def test_against_a_server_without_an_event_stream_run_and_watch_poll(tmp_path: Path):
    (tmp_path / "bell.qasm").write_text(BELL_QASM2)
    with running_qorch(tmp_path / "data", events=False) as old:
        target = OldServer(old.url, old.new_key())
        done = qorch(target, "run", "bell.qasm", "--shots", "200", "--wait", "--json", cwd=tmp_path)
        assert done.returncode == 0 and json_of(done)["status"] == "Done", done.stderr

        submitted, seen, status = _watch_while_submitting(target, tmp_path)
    assert any(change["id"] in submitted and change["status"] == "Done" for change in seen)
    assert status == 0

"""`qorch run | jobs | show | cancel | devices | watch`: the commands that act on a qorch server
over HTTP (qorch.client), with `--json` on each for scripts. The server and key come from
`--url`, `QORCH_URL` / `QORCH_API_KEY` or the config file (see client/config.py).

Exit status: 0 done; 1 the job ended Error; 2 bad arguments or a request the server refused
(4xx); 3 the job was Cancelled; 4 --timeout passed before the job ended; 5 the server could not
be reached or failed (5xx); 130 interrupted while waiting (the job goes on)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from qorch.client import Client

COMMANDS = ("run", "jobs", "show", "cancel", "devices", "watch")
OK, JOB_ERROR, USAGE, JOB_CANCELLED, TIMED_OUT, UNREACHABLE, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
BY_STATUS = {"Error": JOB_ERROR, "Cancelled": JOB_CANCELLED}
WATCH_POLL = 1.0


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON (one object per line)")
    common.add_argument("--url", help="the server (default: $QORCH_URL, the config file)")
    follow = argparse.ArgumentParser(add_help=False)
    follow.add_argument("--timeout", type=float, help="stop waiting after this many seconds")
    epilog = __doc__.split("\n\n")[-1]

    def add(name: str, text: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, parents=[common, *parents], epilog=epilog)

    run = add("run", "submit OpenQASM files as one job (over HTTP); --wait to see results", follow)
    run.add_argument("files", nargs="+", type=_reader("qasm_file"), metavar="FILE.qasm")
    run.add_argument("--device", help="device id (default: the server's, aer_simulator)")
    run.add_argument("--shots", type=_reader("positive_int"), help="(default: the server's, 1024)")
    run.add_argument("--experiment", help="experiment id (default: one named qorch-client)")
    run.add_argument("--name", help="the job's name")
    run.add_argument(
        "--param-file",
        type=_reader("parameter_file"),
        help="parameter sets: CSV (a row per set, header optional) or JSON (a list of sets, "
        "or one list of sets per circuit)",
    )
    run.add_argument(
        "--observable",
        action="append",
        type=_reader("observable"),
        help='Pauli terms "ZZ:1.0,XI:0.5" (rightmost letter: qubit 0); repeat for more',
    )
    run.add_argument("--statevector", action="store_true", help="an exact StatevectorRun")
    run.add_argument("--dry-run", action="store_true", help="only estimate the cost")
    run.add_argument("--wait", action="store_true", help="follow the job, then show its results")

    jobs = add("jobs", "list your jobs, newest first")
    jobs.add_argument("--status", choices=["Queued", "Running", "Done", "Error", "Cancelled"])
    jobs.add_argument("--device")
    jobs.add_argument("--experiment")
    jobs.add_argument("--limit", type=_reader("positive_int"), default=20)

    show = add("show", "a job and its results (exit status as for run --wait)")
    show.add_argument("job")
    cancel = add("cancel", "cancel a job (at its provider too)")
    cancel.add_argument("job")
    add("devices", "the devices jobs can run on")
    watch = add("watch", "follow one job to its end, or every change of your jobs", follow)
    watch.add_argument("job", nargs="?")


def _reader(name: str) -> Callable[[str], Any]:
    """A reader of client/inputs.py, imported when used (the other commands never need the
    client, or httpx)."""

    def read(text: str) -> Any:
        from qorch.client import inputs

        return getattr(inputs, name)(text)

    read.__name__ = name
    return read


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from qorch.client import (
        BadRequest,
        Client,
        ConfigError,
        ConnectionFailed,
        ServerError,
        WaitTimeout,
    )

    out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        with Client(args.url) as client:
            return COMMAND[args.command](client, args, out, err)
    except (ConfigError, BadRequest) as error:
        return _fail(out, err, args, error, USAGE)
    except (ConnectionFailed, ServerError) as error:
        return _fail(out, err, args, error, UNREACHABLE)
    except WaitTimeout as error:
        return _fail(out, err, args, error, TIMED_OUT)
    except KeyboardInterrupt:
        return INTERRUPTED


def _fail(
    out: Console, err: Console, args: argparse.Namespace, error: Exception, status: int
) -> int:
    """Says why on stderr; with --json also prints the server's error body (or one in its
    shape: `{"error": {"code", "message", "field"}}`) for a script to read."""
    from qorch.client import QorchError, WaitTimeout

    answered = getattr(error, "status", 0)
    code = getattr(error, "code", "") or ("wait_timeout" if isinstance(error, WaitTimeout) else "")
    said = f"{answered} {code}: " if answered else f"{code}: " if code else ""
    err.print(f"qorch {args.command}: {said}{error}", markup=False)
    if args.json:
        body = error.body if isinstance(error, QorchError) and error.body else {}
        made = {"code": code, "message": str(error), "field": getattr(error, "field", None)}
        if isinstance(error, WaitTimeout):
            made["job"] = error.job
        out.file.write(json.dumps(body or {"error": made}) + "\n")
    return status


def submit(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    circuits = [text for _, text in args.files]
    body: dict[str, Any] = {"circuits_qasm": circuits}
    for name, value in (
        ("device_id", args.device),
        ("shots", args.shots),
        ("experiment_id", args.experiment),
        ("name", args.name),
    ):
        if value is not None:
            body[name] = value
    if args.param_file is not None:
        from qorch.client.inputs import per_circuit

        body["parameters"] = per_circuit(args.param_file, len(circuits))
    if args.observable:
        body["observables"] = [args.observable] * len(circuits)
    if args.statevector:
        body["run_type"] = "StatevectorRun"
    if args.dry_run:
        body["dry_run"] = True
    started = time.monotonic()
    job = client.submit(body)
    if not args.wait:
        _print(out, args, job, f"job {job['id']} {job['status']}: qorch watch {job['id']}")
        return OK
    from qorch.client.terminal import observable_label

    labels = [observable_label(o) for o in args.observable or []]
    return _follow(client, job, args, out, err, started, labels)


def _follow(
    client: Client,
    job: dict[str, Any],
    args: argparse.Namespace,
    out: Console,
    err: Console,
    started: float | None = None,
    labels: list[str] | None = None,
) -> int:
    from qorch.client.terminal import StatusLine, results

    try:
        if args.json:
            job = client.wait(job["id"], args.timeout)
        else:
            with StatusLine(err, started) as line:
                line.update(job)
                job = client.wait(job["id"], args.timeout, on_status=line.update)
    except KeyboardInterrupt:
        err.print(f"stopped waiting; the job goes on: qorch watch {job['id']}")
        return INTERRUPTED
    _print(out, args, job, results(job, labels))
    return BY_STATUS.get(job["status"], OK)


def _submitted(job: dict[str, Any]) -> float | None:
    """When the job was submitted, on this process's monotonic clock (for elapsed times)."""
    from datetime import UTC, datetime

    try:
        age = datetime.now(UTC) - datetime.fromisoformat(job["creation_date"])
    except (KeyError, TypeError, ValueError):
        return None
    return time.monotonic() - max(0.0, age.total_seconds())


def list_jobs(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    from qorch.client.terminal import jobs_table

    filters = {"status": args.status, "device_id": args.device, "limit": args.limit}
    found = client.jobs(**filters, experiment_id=args.experiment)
    _print(out, args, found, jobs_table(found))
    return OK


def show(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.console import Group

    from qorch.client.terminal import results, summary

    job = client.job(args.job, include_inputs=True)
    _print(out, args, job, Group(summary(job), results(job)))
    return BY_STATUS.get(job["status"], OK)


def cancel(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    from qorch.client.terminal import summary

    job = client.cancel(args.job)
    _print(out, args, job, summary(job))
    return OK


def devices(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    from qorch.client.terminal import devices_table

    found = client.devices()
    _print(out, args, found, devices_table(found))
    return OK


def watch(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.job:
        job = client.job(args.job)
        return _follow(client, job, args, out, err, _submitted(job))
    from qorch.client import StreamUnavailable

    if not args.json:
        err.print(f"watching your jobs on {client.url} (Ctrl-C to stop)")
    try:
        try:
            for _, job in client.events():
                _change(out, args, job)
        except StreamUnavailable:
            _poll_changes(client, out, args)
    except KeyboardInterrupt:
        pass
    return OK


def _poll_changes(client: Client, out: Console, args: argparse.Namespace) -> None:
    """Without an event stream: the newest jobs listed every second, changes printed."""
    seen = {job["id"]: job["status"] for job in client.jobs(limit=100)}
    while True:
        time.sleep(WATCH_POLL)
        for job in reversed(client.jobs(limit=100)):
            if seen.get(job["id"]) != job["status"]:
                seen[job["id"]] = job["status"]
                _change(out, args, job)


def _change(out: Console, args: argparse.Namespace, job: dict[str, Any]) -> None:
    from qorch.client.terminal import STYLE

    if args.json:
        out.file.write(json.dumps(job) + "\n")
        out.file.flush()
        return
    status = str(job.get("status"))
    out.print(
        f"{time.strftime('%H:%M:%S')}  {job.get('id')}  [{STYLE.get(status, '')}]{status}[/]"
        f"  {job.get('device_id') or ''}",
    )


def _print(out: Console, args: argparse.Namespace, data: Any, shown: Any) -> None:
    if args.json:
        out.file.write(json.dumps(data) + "\n")
    else:
        out.print(shown)


COMMAND = {
    "run": submit,
    "jobs": list_jobs,
    "show": show,
    "cancel": cancel,
    "devices": devices,
    "watch": watch,
}

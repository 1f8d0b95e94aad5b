"""A loopback Amazon Braket + S3 endpoint for tests: real HTTP on 127.0.0.1, the real SDK on the
other side (boto3/botocore pointed at it with an endpoint URL and path-style S3 addressing).

It implements what `AwsDevice(arn).run(...)`, `AwsQuantumTask` and our adapter call:
- Braket (rest-json): `GET /device/{arn}` (with a deviceCapabilities document the SDK parses),
  `POST /quantum-task` (deduplicated by clientToken), `GET /quantum-task/{arn}`,
  `PUT /quantum-task/{arn}/cancel`;
- S3: `GET /{bucket}/{key}` for the `results.json` a completed task leaves in its output folder.

A task's result is computed for real: the submitted OpenQASM 3 program (with its `inputs`) runs in
the Braket default simulator (density matrix for DM1, state vector otherwise), and the
GateModelTaskResult it returns is stored as the task's results.json (SV1/DM1 with the execution
duration they report). QPU devices also check the program's gate names against the device's
supportedOperations, like Braket's validation. QPUs declare program sets
(`braket.ir.openqasm.program_set`, 100 executables, 1,000,000 shots; the managed simulators do
not): a program-set task runs in the simulator too, and its result is left as a results.json
pointing at further objects (`program_set_results_inline`: all in one), see
tests/fakes/braket_program_sets.py.

SigV4 signatures are ignored; only the access key id of the `Authorization` header is read (to
record it, and to answer 403 UnrecognizedClientException to keys the test did not accept).

Controls: `fail_next_creates` (answer 5xx *after* recording the task: "created, but the answer was
lost"), `fail_next` (any operation, before doing anything), `fail_next_tasks` (tasks end FAILED),
`fail_tasks_whose_token_ends_with` (the task(s) of a given clientToken, e.g. "-1": the second task
of every job, end FAILED: one failed task of a many-task job), `fail_next_executables` (some
executables of the next program set fail), `set_program_set_limits`, `hold`/`release` (tasks stay
QUEUED), `set_device` (status and queue depth), `accepted_keys`, `simulator_duration_ms`.
Observations: `requests`, `calls(operation)`, `creates`, `tasks`, `task_count`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes import braket_program_sets as program_sets
from tests.fakes.braket_devices import (
    ACCOUNT,
    ANKAA,
    ARIA,
    DM1,
    FORTE,
    GARNET,
    SV1,
    FakeDevice,
    capabilities,
    default_devices,
    region_of,
    validate,
)

__all__ = ["ANKAA", "ARIA", "DM1", "FORTE", "GARNET", "SV1", "FakeBraket", "FakeDevice"]


@dataclass
class FakeTask:
    arn: str
    client_token: str
    device_arn: str
    shots: int
    action: str
    device_parameters: str | None
    bucket: str
    directory: str
    created_at: str
    status: str = "QUEUED"
    polls: int = 0
    failure_reason: str | None = None
    ended_at: str | None = None
    successful_shots: int | None = None
    simulation: Future[tuple[Any, int]] | None = field(default=None, repr=False, compare=False)
    """The program's result (and milliseconds spent), computed in the background once created."""

    @property
    def is_program_set(self) -> bool:
        header: dict[str, Any] = json.loads(self.action).get("braketSchemaHeader") or {}
        return header.get("name") == program_sets.ACTION

    @property
    def executables(self) -> int:
        """Executions the task holds (1 for a single program)."""
        return program_sets.executable_count(self.action)[1] if self.is_program_set else 1

    @property
    def inputs(self) -> dict[str, float]:
        inputs: dict[str, float] = json.loads(self.action).get("inputs") or {}
        return inputs

    @property
    def source(self) -> str:
        source: str = json.loads(self.action)["source"]
        return source


@dataclass
class Fault:
    status: int
    code: str
    message: str
    operation: str | None
    after_recording: bool = False
    retry_after: float | None = None


@dataclass
class Recorded:
    method: str
    path: str
    operation: str
    body: dict[str, Any] | None
    access_key_id: str | None
    status: int = 0

    @property
    def client_token(self) -> str | None:
        return (self.body or {}).get("clientToken")


@dataclass
class _State:
    devices: dict[str, FakeDevice] = field(default_factory=default_devices)
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    by_token: dict[str, str] = field(default_factory=dict)
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    creates: int = 0
    held: bool = False
    task_failures: list[str] = field(default_factory=list)
    token_failures: list[tuple[str, str]] = field(default_factory=list)
    executable_failures: list[tuple[tuple[int, ...], str]] = field(default_factory=list)


class FakeBraket:
    """Start with `with FakeBraket() as fake:`; point the adapter at `fake.url`."""

    def __init__(
        self, *, accepted_keys: set[str] | None = None, polls_before_done: int = 1
    ) -> None:
        self.accepted_keys = accepted_keys
        """Access key ids that may sign requests (None: any key)."""
        self.polls_before_done = polls_before_done
        """GetQuantumTask answers QUEUED/RUNNING this many times before the task completes."""
        self.program_set_results_inline = False
        """Leave a program set's result all in its results.json (else: pointing at objects)."""
        self.simulator_duration_ms: int | None = None
        """The executionDuration SV1/DM1 results report (None: the simulation's own time)."""
        self._state = _State()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._simulators: ThreadPoolExecutor | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeBraket:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._simulators = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fake-braket")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._simulators is not None:
            self._simulators.shutdown(wait=True, cancel_futures=True)
            self._simulators = None

    def __enter__(self) -> FakeBraket:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- controls ---------------------------------------------------------------------------

    def fail_next_creates(
        self,
        count: int,
        *,
        status: int = 503,
        code: str = "ServiceUnavailableException",
        message: str = "Service unavailable",
    ) -> None:
        """The next `count` CreateQuantumTask calls record their task, then answer an error."""
        with self._lock:
            for _ in range(count):
                self._state.faults.append(
                    Fault(status, code, message, "CreateQuantumTask", after_recording=True)
                )

    def fail_next(
        self,
        count: int,
        *,
        status: int,
        code: str,
        message: str = "",
        operation: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The next `count` calls (of `operation`, or any) answer an error and do nothing."""
        with self._lock:
            for _ in range(count):
                self._state.faults.append(
                    Fault(status, code, message or code, operation, retry_after=retry_after)
                )

    def fail_next_tasks(self, count: int, reason: str) -> None:
        """The next `count` tasks to finish end FAILED with `reason` as their failureReason."""
        with self._lock:
            self._state.task_failures.extend([reason] * count)

    def fail_tasks_whose_token_ends_with(self, suffix: str, reason: str) -> None:
        """Every task whose clientToken ends with `suffix` ends FAILED with `reason` (task i > 0
        of a job has the token `<job token>-<i>`: "-1" fails the second task of each job)."""
        with self._lock:
            self._state.token_failures.append((suffix, reason))

    def fail_next_executables(self, positions: tuple[int, ...], reason: str) -> None:
        """The next program set to finish has the executables at `positions` (counted over its
        programs in order) fail with `reason`; it ends COMPLETED unless all of them failed."""
        with self._lock:
            self._state.executable_failures.append((tuple(positions), reason))

    def set_program_set_limits(self, arn: str, limits: tuple[int, int] | None) -> None:
        """(maximumExecutables, maximumTotalShots) the device declares; None: no program sets."""
        with self._lock:
            self._state.devices[arn].program_sets = limits

    def hold(self) -> None:
        """Tasks stay QUEUED until `release`."""
        with self._lock:
            self._state.held = True

    def release(self) -> None:
        with self._lock:
            self._state.held = False

    def set_device(
        self,
        arn: str,
        *,
        status: str | None = None,
        queue_normal: str | None = None,
        queue_priority: str | None = None,
    ) -> None:
        with self._lock:
            device = self._state.devices[arn]
            if status is not None:
                device.status = status
            if queue_normal is not None:
                device.queue_normal = queue_normal
            if queue_priority is not None:
                device.queue_priority = queue_priority

    # --- observations -----------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.requests)

    @property
    def creates(self) -> int:
        """CreateQuantumTask calls received (a retried call counts again)."""
        with self._lock:
            return self._state.creates

    @property
    def tasks(self) -> list[FakeTask]:
        with self._lock:
            return list(self._state.tasks.values())

    @property
    def task_count(self) -> int:
        with self._lock:
            return len(self._state.tasks)

    def calls(self, operation: str) -> list[Recorded]:
        return [r for r in self.requests if r.operation == operation]

    def device_capabilities(self, arn: str) -> dict[str, Any]:
        return capabilities(self._state.devices[arn])

    # --- request handling (called from the server's threads) ---------------------------------

    def _handle(self, request: _Handler) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(request.path)
        path = split.path
        body_bytes = request.body
        body: dict[str, Any] | None = None
        if body_bytes:
            try:
                body = json.loads(body_bytes)
            except ValueError:
                body = {"raw": body_bytes.decode(errors="replace")}
        operation, s3 = _operation(request.command, path)
        key_id = _access_key_id(request.headers.get("Authorization", ""))
        recorded = Recorded(request.command, path, operation, body, key_id)
        if operation == "GetQuantumTask":
            self._await_simulation(unquote(path.removeprefix("/quantum-task/")))
        with self._lock:
            self._state.requests.append(recorded)
            answer = self._answer(request.command, path, operation, s3, body, key_id)
            recorded.status = answer[0]
            return answer

    def _await_simulation(self, arn: str) -> None:
        """Gives a task's simulation a moment (outside the lock) before its state is read: a
        small program is done at once, a large program set answers RUNNING meanwhile."""
        with self._lock:
            task = self._state.tasks.get(arn)
            simulation = task.simulation if task is not None else None
        if simulation is not None:
            wait([simulation], timeout=SIMULATION_WAIT)

    def _answer(
        self,
        method: str,
        path: str,
        operation: str,
        s3: bool,
        body: dict[str, Any] | None,
        key_id: str | None,
    ) -> tuple[int, dict[str, str], bytes]:
        state = self._state
        if self.accepted_keys is not None and key_id not in self.accepted_keys:
            if s3:
                return _s3_error(
                    403,
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                )
            return _error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        fault = next(
            (f for f in state.faults if f.operation in (None, operation) and not f.after_recording),
            None,
        )
        if fault is not None:
            state.faults.remove(fault)
            if s3:
                return _s3_error(fault.status, fault.code, fault.message)
            return _error(fault.status, fault.code, fault.message, fault.retry_after)
        if operation == "GetDevice":
            return self._get_device(unquote(path.removeprefix("/device/")))
        if operation == "CreateQuantumTask":
            state.creates += 1
            answer = self._create(body or {}, key_id)
            late = next(
                (f for f in state.faults if f.operation == operation and f.after_recording), None
            )
            if late is not None and answer[0] == 201:
                state.faults.remove(late)
                return _error(late.status, late.code, late.message)
            return answer
        if operation == "GetQuantumTask":
            return self._get_task(unquote(path.removeprefix("/quantum-task/")))
        if operation == "CancelQuantumTask":
            arn = unquote(path.removeprefix("/quantum-task/").removesuffix("/cancel"))
            return self._cancel(arn)
        if operation == "GetObject":
            bucket, _, key = path.lstrip("/").partition("/")
            data = state.objects.get((unquote(bucket), unquote(key)))
            if data is None:
                return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
            return 200, {"Content-Type": "application/json", "ETag": '"fake"'}, data
        if operation == "GetCallerIdentity":
            xml = (
                "<GetCallerIdentityResponse><GetCallerIdentityResult>"
                f"<Arn>arn:aws:iam::{ACCOUNT}:user/test</Arn><UserId>{key_id}</UserId>"
                f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
                "</GetCallerIdentityResponse>"
            )
            return 200, {"Content-Type": "text/xml"}, xml.encode()
        if s3:
            return _s3_error(405, "MethodNotAllowed", f"{method} is not supported by the fake")
        return _error(404, "ResourceNotFoundException", f"no route {method} {path}")

    def _get_device(self, arn: str) -> tuple[int, dict[str, str], bytes]:
        device = self._state.devices.get(arn)
        if device is None:
            return _error(404, "ResourceNotFoundException", f"Braket device '{arn}' not found")
        document = {
            "deviceArn": device.arn,
            "deviceName": device.name,
            "providerName": device.provider,
            "deviceType": device.device_type,
            "deviceStatus": device.status,
            "deviceCapabilities": json.dumps(capabilities(device)),
            "deviceQueueInfo": [
                {
                    "queue": "QUANTUM_TASKS_QUEUE",
                    "queueSize": device.queue_normal,
                    "queuePriority": "Normal",
                },
                {
                    "queue": "QUANTUM_TASKS_QUEUE",
                    "queueSize": device.queue_priority,
                    "queuePriority": "Priority",
                },
                {"queue": "JOBS_QUEUE", "queueSize": "0"},
            ],
        }
        return _json(200, document)

    def _create(
        self, body: dict[str, Any], key_id: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        state = self._state
        missing = [
            name
            for name in (
                "clientToken",
                "deviceArn",
                "shots",
                "outputS3Bucket",
                "outputS3KeyPrefix",
                "action",
            )
            if name not in body
        ]
        if missing:
            return _error(400, "ValidationException", f"missing {', '.join(missing)}")
        token = body["clientToken"]
        if token in state.by_token:
            return _json(201, {"quantumTaskArn": state.by_token[token]})
        device = state.devices.get(body["deviceArn"])
        if device is None:
            return _error(400, "ValidationException", f"unknown device {body['deviceArn']}")
        if device.status != "ONLINE":
            return _error(424, "DeviceOfflineException", f"{device.name} is {device.status}")
        problem = validate(device, body)
        if problem:
            return _error(400, "ValidationException", problem)
        region = region_of(device.arn) or "us-east-1"
        task_id = str(uuid.uuid4())
        arn = f"arn:aws:braket:{region}:{ACCOUNT}:quantum-task/{task_id}"
        state.tasks[arn] = task = FakeTask(
            arn=arn,
            client_token=token,
            device_arn=device.arn,
            shots=int(body["shots"]),
            action=body["action"],
            device_parameters=body.get("deviceParameters"),
            bucket=body["outputS3Bucket"],
            directory=f"{body['outputS3KeyPrefix']}/{task_id}",
            created_at=_now(),
        )
        state.by_token[token] = arn
        assert self._simulators is not None
        task.simulation = self._simulators.submit(_simulate, task)
        return _json(201, {"quantumTaskArn": arn})

    def _get_task(self, arn: str) -> tuple[int, dict[str, str], bytes]:
        task = self._state.tasks.get(arn)
        if task is None:
            return _error(404, "ResourceNotFoundException", f"quantum task {arn} not found")
        if task.status == "CANCELLING":
            task.status, task.ended_at = "CANCELLED", _now()
        elif task.status in ("QUEUED", "RUNNING") and not self._state.held:
            if task.polls < self.polls_before_done:
                task.polls += 1
                task.status = "RUNNING"
            elif task.simulation is None or task.simulation.done():
                self._complete(task)
            else:
                task.status = "RUNNING"
        document: dict[str, Any] = {
            "quantumTaskArn": task.arn,
            "status": task.status,
            "deviceArn": task.device_arn,
            "deviceParameters": task.device_parameters or "{}",
            "shots": task.shots,
            "outputS3Bucket": task.bucket,
            "outputS3Directory": task.directory,
            "createdAt": task.created_at,
            "queueInfo": {
                "queue": "QUANTUM_TASKS_QUEUE",
                "position": "1" if task.status == "QUEUED" else "None",
                "queuePriority": "Normal",
            },
            "actionMetadata": _action_metadata(task),
        }
        if task.successful_shots is not None:
            document["numSuccessfulShots"] = task.successful_shots
        if task.ended_at:
            document["endedAt"] = task.ended_at
        if task.failure_reason:
            document["failureReason"] = task.failure_reason
        return _json(200, document)

    def _complete(self, task: FakeTask) -> None:
        state = self._state
        chosen = next((r for s, r in state.token_failures if task.client_token.endswith(s)), None)
        if chosen is None and state.task_failures:
            chosen = state.task_failures.pop(0)
        if chosen is not None:
            task.status, task.ended_at, task.failure_reason = "FAILED", _now(), chosen
            task.successful_shots = 0
            return
        try:
            result, spent = task.simulation.result() if task.simulation else _simulate(task)
        except Exception as error:  # the program does not run: the task fails, like Braket's
            task.status, task.ended_at = "FAILED", _now()
            task.failure_reason = f"ValidationException: {type(error).__name__}: {error}"
            return
        result.taskMetadata.id = task.arn
        result.taskMetadata.deviceId = task.device_arn
        if task.is_program_set:
            self._complete_program_set(task, result)
            return
        if task.device_arn in (SV1, DM1):
            from braket.task_result import SimulatorMetadata

            if self.simulator_duration_ms is not None:
                spent = self.simulator_duration_ms
            result.additionalMetadata.simulatorMetadata = SimulatorMetadata(executionDuration=spent)
        key = f"{task.directory}/results.json"
        self._state.objects[(task.bucket, key)] = result.json().encode()
        task.status, task.ended_at, task.successful_shots = "COMPLETED", _now(), task.shots

    def _complete_program_set(self, task: FakeTask, result: Any) -> None:
        state = self._state
        failing, reason = (
            state.executable_failures.pop(0) if state.executable_failures else ((), "")
        )
        program_sets.fail_executables(result, task.shots, failing, reason)
        inline = self.program_set_results_inline
        state.objects.update(program_sets.stored(result, task.bucket, task.directory, inline))
        task.successful_shots = program_sets.successful_shots(result)
        task.status = "COMPLETED" if task.successful_shots else "FAILED"
        if not task.successful_shots:
            task.failure_reason = f"ValidationException: every executable failed: {reason}"
        task.ended_at = _now()

    def _cancel(self, arn: str) -> tuple[int, dict[str, str], bytes]:
        task = self._state.tasks.get(arn)
        if task is None:
            return _error(404, "ResourceNotFoundException", f"quantum task {arn} not found")
        if task.status in ("COMPLETED", "FAILED", "CANCELLED"):
            return _error(409, "ConflictException", f"quantum task is {task.status}")
        task.status = "CANCELLING"
        return _json(200, {"quantumTaskArn": arn, "cancellationStatus": "CANCELLING"})


SIMULATION_WAIT = 2.0
"""Seconds a GetQuantumTask waits for its task's simulation before answering RUNNING."""


def _simulate(task: FakeTask) -> tuple[Any, int]:
    """The task's program (or program set) run in Braket's default simulator, and its time."""
    from braket.default_simulator import DensityMatrixSimulator, StateVectorSimulator
    from braket.ir.openqasm import Program, ProgramSet

    simulator = DensityMatrixSimulator() if task.device_arn == DM1 else StateVectorSimulator()
    started = time.perf_counter()
    if task.is_program_set:
        result = simulator.run(ProgramSet.parse_raw(task.action), shots=task.shots)
    else:
        result = simulator.run(Program(source=task.source, inputs=task.inputs), shots=task.shots)
    return result, int((time.perf_counter() - started) * 1000)


# --- wire helpers ----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBraket
    protocol_version = "HTTP/1.1"
    body: bytes = b""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        status, headers, data = self.fake._handle(self)
        self.send_response(status)
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


def _operation(method: str, path: str) -> tuple[str, bool]:
    """(operation name, whether the path is an S3 one)."""
    if path.startswith("/device/") and method == "GET":
        return "GetDevice", False
    if path == "/quantum-task" and method == "POST":
        return "CreateQuantumTask", False
    if path.startswith("/quantum-task/") and path.endswith("/cancel") and method == "PUT":
        return "CancelQuantumTask", False
    if path.startswith("/quantum-task/") and method == "GET":
        return "GetQuantumTask", False
    if path.startswith(("/device", "/quantum-task", "/devices")):
        return f"{method} {path}", False
    if path == "/" and method == "POST":
        return "GetCallerIdentity", False
    if method == "GET" and path.count("/") >= 2:
        return "GetObject", True
    return f"S3 {method}", True


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(?:[^/]+)/([^/]+)/")


def _access_key_id(authorization: str) -> str | None:
    match = _CREDENTIAL.search(authorization)
    return match.group(1) if match else None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _action_metadata(task: FakeTask) -> dict[str, Any]:
    if not task.is_program_set:
        return {"actionType": "braket.ir.openqasm.program"}
    programs, executables = program_sets.executable_count(task.action)
    return {
        "actionType": program_sets.ACTION,
        "programCount": programs,
        "executableCount": executables,
    }


def _json(status: int, document: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(document).encode()


def _error(
    status: int, code: str, message: str, retry_after: float | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return status, headers, json.dumps({"message": message}).encode()


def _s3_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return status, {"Content-Type": "application/xml"}, xml.encode()

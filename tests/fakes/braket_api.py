"""A loopback Amazon Braket + S3 endpoint for tests: real HTTP on 127.0.0.1, the real SDK on the
other side (boto3/botocore pointed at it with an endpoint URL and path-style S3 addressing).

It implements what `AwsDevice(arn).run(...)`, `AwsQuantumTask` and our adapter call:
- Braket (rest-json): `GET /device/{arn}` (with a deviceCapabilities document the SDK parses),
  `POST /quantum-task` (deduplicated by clientToken), `GET /quantum-task/{arn}`,
  `PUT /quantum-task/{arn}/cancel`;
- S3: `GET /{bucket}/{key}` for the `results.json` a completed task leaves in its output folder.

A task's result is computed for real: the submitted OpenQASM 3 program (with its `inputs`) runs in
the Braket default simulator (density matrix for DM1, state vector otherwise), and the
GateModelTaskResult it returns is stored as the task's results.json. QPU devices also check the
program's gate names against the device's supportedOperations, like Braket's validation.

SigV4 signatures are ignored; only the access key id of the `Authorization` header is read (to
record it, and to answer 403 UnrecognizedClientException to keys the test did not accept).

Controls: `fail_next_creates` (answer 5xx *after* recording the task: "created, but the answer was
lost"), `fail_next` (any operation, before doing anything), `fail_next_tasks` (tasks end FAILED),
`hold`/`release` (tasks stay QUEUED), `set_device` (status and queue depth), `accepted_keys`.
Observations: `requests`, `calls(operation)`, `creates`, `tasks`, `task_count`.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

ACCOUNT = "123456789012"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
ARIA = "arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
ANKAA = "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3"

_IONQ_OPS = "x y z rx ry rz h cnot s si t ti v vi xx yy zz swap"
_IQM_OPS = (
    "ccnot cnot cphaseshift cphaseshift00 cphaseshift01 cphaseshift10 cswap swap iswap pswap ecr "
    "cy cz xy xx yy zz h i phaseshift rx ry rz s si t ti v vi x y z"
)
_RIGETTI_OPS = (
    "cz xy ccnot cnot cphaseshift cphaseshift00 cphaseshift01 cphaseshift10 cswap h i iswap "
    "phaseshift pswap rx ry rz s si swap t ti x y z"
)


@dataclass
class FakeDevice:
    arn: str
    name: str
    provider: str
    device_type: str  # "QPU" | "SIMULATOR"
    qubits: int
    operations: tuple[str, ...] | None = None
    """Gate names a QPU accepts (None: a simulator, anything the simulator runs)."""
    schema: str = "braket.device_schema.simulators.gate_model_simulator_device_capabilities"
    native: tuple[str, ...] = ()
    status: str = "ONLINE"
    queue_normal: str = "0"
    queue_priority: str = "0"


def default_devices() -> dict[str, FakeDevice]:
    devices = [
        FakeDevice(SV1, "SV1", "Amazon Braket", "SIMULATOR", 34),
        FakeDevice(DM1, "dm1", "Amazon Braket", "SIMULATOR", 17),
        FakeDevice(
            FORTE,
            "Forte 1",
            "IonQ",
            "QPU",
            36,
            tuple(_IONQ_OPS.split()),
            "braket.device_schema.ionq.ionq_device_capabilities",
            ("gpi", "gpi2", "zz"),
        ),
        FakeDevice(
            ARIA,
            "Aria 1",
            "IonQ",
            "QPU",
            25,
            tuple(_IONQ_OPS.split()),
            "braket.device_schema.ionq.ionq_device_capabilities",
            ("gpi", "gpi2", "ms"),
        ),
        FakeDevice(
            GARNET,
            "Garnet",
            "IQM",
            "QPU",
            20,
            tuple(_IQM_OPS.split()),
            "braket.device_schema.iqm.iqm_device_capabilities",
            ("cz", "prx"),
        ),
        FakeDevice(
            ANKAA,
            "Ankaa-3",
            "Rigetti",
            "QPU",
            84,
            tuple(_RIGETTI_OPS.split()),
            "braket.device_schema.rigetti.rigetti_device_capabilities",
            ("rx", "rz", "iswap"),
        ),
    ]
    return {device.arn: device for device in devices}


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


class FakeBraket:
    """Start with `with FakeBraket() as fake:`; point the adapter at `fake.url`."""

    def __init__(
        self, *, accepted_keys: set[str] | None = None, polls_before_done: int = 1
    ) -> None:
        self.accepted_keys = accepted_keys
        """Access key ids that may sign requests (None: any key)."""
        self.polls_before_done = polls_before_done
        """GetQuantumTask answers QUEUED/RUNNING this many times before the task completes."""
        self._state = _State()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeBraket:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

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
        return _capabilities(self._state.devices[arn])

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
        with self._lock:
            self._state.requests.append(recorded)
            answer = self._answer(request.command, path, operation, s3, body, key_id)
            recorded.status = answer[0]
            return answer

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
            "deviceCapabilities": json.dumps(_capabilities(device)),
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
        problem = _validate(device, body)
        if problem:
            return _error(400, "ValidationException", problem)
        region = _region_of(device.arn) or "us-east-1"
        task_id = str(uuid.uuid4())
        arn = f"arn:aws:braket:{region}:{ACCOUNT}:quantum-task/{task_id}"
        state.tasks[arn] = FakeTask(
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
            else:
                self._complete(task)
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
            "actionMetadata": {"actionType": "braket.ir.openqasm.program"},
        }
        if task.ended_at:
            document["endedAt"] = task.ended_at
        if task.failure_reason:
            document["failureReason"] = task.failure_reason
        return _json(200, document)

    def _complete(self, task: FakeTask) -> None:
        from braket.default_simulator import DensityMatrixSimulator, StateVectorSimulator
        from braket.ir.openqasm import Program

        if self._state.task_failures:
            task.status, task.ended_at = "FAILED", _now()
            task.failure_reason = self._state.task_failures.pop(0)
            return
        simulator = DensityMatrixSimulator() if task.device_arn == DM1 else StateVectorSimulator()
        try:
            program = Program(source=task.source, inputs=task.inputs)
            result = simulator.run(program, shots=task.shots)
        except Exception as error:  # the program does not run: the task fails, like Braket's
            task.status, task.ended_at = "FAILED", _now()
            task.failure_reason = f"ValidationException: {type(error).__name__}: {error}"
            return
        result.taskMetadata.id = task.arn
        result.taskMetadata.deviceId = task.device_arn
        key = f"{task.directory}/results.json"
        self._state.objects[(task.bucket, key)] = result.json().encode()
        task.status, task.ended_at = "COMPLETED", _now()

    def _cancel(self, arn: str) -> tuple[int, dict[str, str], bytes]:
        task = self._state.tasks.get(arn)
        if task is None:
            return _error(404, "ResourceNotFoundException", f"quantum task {arn} not found")
        if task.status in ("COMPLETED", "FAILED", "CANCELLED"):
            return _error(409, "ConflictException", f"quantum task is {task.status}")
        task.status = "CANCELLING"
        return _json(200, {"quantumTaskArn": arn, "cancellationStatus": "CANCELLING"})


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


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


_NOT_GATES = {
    "OPENQASM",
    "include",
    "qubit",
    "bit",
    "input",
    "output",
    "const",
    "float",
    "int",
    "uint",
    "angle",
    "bool",
    "measure",
    "barrier",
    "reset",
    "box",
}
_HEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)")


def _validate(device: FakeDevice, body: dict[str, Any]) -> str | None:
    """What Braket's validation would refuse: unknown actions, shots, gates a QPU lacks."""
    try:
        action = json.loads(body["action"])
    except (TypeError, ValueError):
        return "action is not JSON"
    header = action.get("braketSchemaHeader", {})
    if header.get("name") != "braket.ir.openqasm.program" or "source" not in action:
        return f"unsupported action {header.get('name')!r}"
    shots = int(body["shots"])
    if device.device_type == "QPU" and shots < 1:
        return "shots must be at least 1 on a QPU"
    if device.operations is None:
        return None
    source = re.sub(r"//[^\n]*|/\*.*?\*/", "", action["source"], flags=re.S)
    for statement in source.split(";"):
        text = statement.strip()
        if not text or text.startswith("#pragma") or "measure" in text:
            continue
        head = _HEAD.match(text)
        name = head.group(1) if head else text.split()[0]
        if name == "gate":
            return "gate definitions are not supported on this device"
        if name not in _NOT_GATES and name not in device.operations:
            return f"Gate {name} is not supported by {device.name}"
    return None


def _capabilities(device: FakeDevice) -> dict[str, Any]:
    """A device document in the shape of the amazon-braket-schemas classes (the SDK parses it)."""
    service = {
        "braketSchemaHeader": {
            "name": "braket.device_schema.device_service_properties",
            "version": "1",
        },
        "executionWindows": [
            {"executionDay": "Everyday", "windowStartHour": "00:00", "windowEndHour": "23:59"}
        ],
        "shotsRange": [1, 100000] if device.device_type == "QPU" else [0, 100000],
        "deviceCost": {"price": 0.0, "unit": "shot"},
        "deviceLocation": _region_of(device.arn) or "us-east-1",
        "updatedAt": "2026-01-01T00:00:00",
        "getTaskPollIntervalMillis": 50,
    }
    if device.operations is None:
        from braket.devices import LocalSimulator

        backend = "braket_dm" if device.arn == DM1 else "braket_sv"
        document: dict[str, Any] = json.loads(LocalSimulator(backend).properties.json())
        document["service"] = service
        document["paradigm"]["qubitCount"] = device.qubits
        return document
    document = {
        "braketSchemaHeader": {"name": device.schema, "version": "1"},
        "service": service,
        "action": {
            "braket.ir.openqasm.program": {
                "actionType": "braket.ir.openqasm.program",
                "version": ["1"],
                "supportedOperations": list(device.operations),
                "supportedModifiers": [],
                "supportedPragmas": ["braket_verbatim"],
                "forbiddenPragmas": [],
                "supportedResultTypes": [
                    {
                        "name": "Sample",
                        "observables": ["x", "y", "z", "h", "i"],
                        "minShots": 1,
                        "maxShots": 100000,
                    },
                    {
                        "name": "Expectation",
                        "observables": ["x", "y", "z", "h", "i"],
                        "minShots": 1,
                        "maxShots": 100000,
                    },
                    {"name": "Probability", "minShots": 1, "maxShots": 100000},
                ],
                "requiresAllQubitsMeasurement": device.provider == "IonQ",
            }
        },
        "deviceParameters": {},
        "paradigm": {
            "braketSchemaHeader": {
                "name": "braket.device_schema.gate_model_qpu_paradigm_properties",
                "version": "1",
            },
            "qubitCount": device.qubits,
            "nativeGateSet": list(device.native),
            "connectivity": {"fullyConnected": device.provider == "IonQ", "connectivityGraph": {}},
        },
    }
    if device.provider == "IonQ":
        document["provider"] = {
            "braketSchemaHeader": {
                "name": "braket.device_schema.ionq.ionq_provider_properties",
                "version": "1",
            },
            "fidelity": {"1Q": {"mean": 0.9998}, "2Q": {"mean": 0.995}, "spam": {"mean": 0.995}},
            "timing": {
                "T1": 100.0,
                "T2": 1.0,
                "1Q": 0.00013,
                "2Q": 0.00097,
                "readout": 0.00015,
                "reset": 2e-05,
            },
            "errorMitigation": {
                "braket.device_schema.error_mitigation.debias.Debias": {"minimumShots": 2500}
            },
        }
    return document

"""A loopback fake of IonQ's REST API v0.4, the part qiskit-ionq 1.1.1 and qorch's adapter call.

A real HTTP server on 127.0.0.1 (a free port) with the paths, status codes and JSON shapes of
https://api.ionq.co/v0.4:

- `POST /v0.4/jobs` (`ionq.circuit.v1`, gateset `qis`) -> 201 `{"id", "status", "session_id"}`
- `GET /v0.4/jobs` (filters `target`, `status`, `ids`, paging `limit`/`next`, newest first)
- `GET /v0.4/jobs/{id}`, `GET /v0.4/jobs/{id}/results/probabilities` (keys: the measured
  integer, qubit 0 = least significant bit), `PUT /v0.4/jobs/{id}/status/cancel`
- `GET /v0.4/backends`, `GET /v0.4/backends/{backend}` (public, as at IonQ: qiskit-ionq sizes its
  backends with an unauthenticated GET)

Every other call needs `Authorization: apiKey <key>` (401 otherwise). Results come from really
simulating the submitted gate list: the circuit is rebuilt in Qiskit and its exact probabilities
taken; the ideal simulator returns them as they are, noise models and QPUs mix in a little
uniform noise and sample `shots` outcomes (so their probabilities are multiples of 1/shots, as
IonQ's are).

Controls for tests: `rate_limit(n, retry_after, after)` answers 429 to n submits, `hang(...)`
makes chosen endpoints never answer, `lose_answer_to_next_submit()` creates the job and then
never answers, `hold_next_submit_until_a_lookup()` answers late, `hold_jobs()`/`release_jobs()`
keep jobs running, `fail_next_jobs(...)` makes jobs fail, `set_backend_status(...)`. Every
request is recorded (`requests`, `submits`).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

PREFIX = "/v0.4"

BACKENDS: dict[str, dict[str, Any]] = {
    "simulator": {"qubits": 29, "noise": 0.0},
    "qpu.aria-1": {"qubits": 25, "noise": 0.02},
    "qpu.forte-1": {"qubits": 36, "noise": 0.01},
}
NOISE_MODELS: dict[str, float] = {
    "ideal": 0.0,
    "aria-1": 0.02,
    "aria-2": 0.02,
    "forte-1": 0.01,
    "forte-enterprise-1": 0.01,
}
"""Simulator noise models IonQ accepts (v0.4), with the uniform-noise weight the fake mixes in."""

# Endpoint names for `hang(...)`.
ENDPOINTS = ("submit", "list", "job", "results", "cancel", "backends", "backend")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeJob:
    id: str
    request: dict[str, Any]
    submitted_at: str
    status: str = "submitted"
    probabilities: dict[str, float] | None = None
    failure: dict[str, str] | None = None
    qubits: int = 0
    gate_counts: dict[str, int] = field(default_factory=dict)


class FakeIonQ:
    """Start with `with FakeIonQ(api_key) as fake:`; point the client at `fake.url`."""

    def __init__(self, api_key: str = "ionq-test-key", *, echo_key_in_errors: bool = False):
        self.api_key = api_key
        self.echo_key_in_errors = echo_key_in_errors
        """Puts the presented key into 401 answers, as a careless proxy might (tests scrubbing)."""
        self.requests: list[RecordedRequest] = []
        self.submits = 0
        """POST /jobs attempts, answered or not."""
        self.jobs: dict[str, FakeJob] = {}
        self.hung: set[str] = set()
        self.backend_status: dict[str, dict[str, Any]] = {
            name: {"status": "available", "degraded": False, "average_queue_time": 60_000}
            for name in BACKENDS
        }
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._rate_limited = 0
        self._rate_limit_after = 0
        self._retry_after = 0.0
        self._lose_next_answer = False
        self._hold_next_submit = False
        self._held_submit: threading.Event | None = None
        self._hold = False
        self._failures: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def start(self) -> FakeIonQ:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # hung handlers give up and close their connections
        if self._held_submit is not None:
            self._held_submit.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeIonQ:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- controls --------------------------------------------------------------------------

    def rate_limit(self, submits: int, retry_after: float = 7, after: int = 0) -> None:
        """Answer 429 with `Retry-After` to `submits` POST /jobs, once `after` more have passed."""
        with self._lock:
            self._rate_limited = submits
            self._rate_limit_after = after
            self._retry_after = retry_after

    def hang(self, *endpoints: str) -> None:
        """Never answer these endpoints (names from ENDPOINTS) until the fake stops."""
        unknown = set(endpoints) - set(ENDPOINTS)
        assert not unknown, f"unknown endpoints {unknown}"
        self.hung.update(endpoints)

    def hold_next_submit_until_a_lookup(self) -> None:
        """The next POST /jobs waits, before creating its job, until a later GET /jobs (a
        client looking for its jobs) has been answered without it."""
        self._hold_next_submit = True

    def lose_answer_to_next_submit(self) -> None:
        """The next POST /jobs creates its job, then never answers (a lost response)."""
        self._lose_next_answer = True

    def hold_jobs(self) -> None:
        """Jobs stay `started` (running) until `release_jobs()`."""
        self._hold = True

    def release_jobs(self) -> None:
        self._hold = False

    def fail_next_jobs(self, count: int, code: str = "SimulationError", message: str = "") -> None:
        self._failures.extend([(code, message or f"{code} in the fake")] * count)

    def set_backend_status(self, backend: str, **values: Any) -> None:
        self.backend_status[backend].update(values)

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # --- behaviour -------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        backend = body.get("backend")
        if backend not in BACKENDS:
            return _error(400, "InvalidInput", f"unknown backend {backend!r}")
        if body.get("type") != "ionq.circuit.v1":
            return _error(
                400, "InvalidInput", f"the fake runs ionq.circuit.v1, not {body.get('type')}"
            )
        program = body.get("input") or {}
        if program.get("gateset") != "qis":
            return _error(400, "InvalidInput", "the fake runs the qis gateset")
        shots = body.get("shots")
        if not isinstance(shots, int) or not 1 <= shots <= 1_000_000:
            return _error(400, "InvalidInput", "shots must be an integer in 1..1000000")
        metadata = body.get("metadata") or {}
        if len(metadata) > 10 or not all(isinstance(v, str) for v in metadata.values()):
            return _error(400, "InvalidInput", "metadata: at most 10 keys, string values")
        mitigation = ((body.get("settings") or {}).get("error_mitigation") or {}).get("debiasing")
        if mitigation and (backend == "simulator" or shots < 500):
            return _error(400, "InvalidInput", "debiasing needs a QPU and at least 500 shots")
        model = (body.get("noise") or {}).get("model", "ideal")
        if backend == "simulator" and model not in NOISE_MODELS:
            return _error(400, "InvalidInput", f"unknown noise model {model!r}")
        qubits = int(program.get("qubits") or 0)
        if qubits > BACKENDS[backend]["qubits"]:
            return _error(400, "InvalidInput", f"{qubits} qubits exceed {backend}")
        try:
            probabilities, counts = _simulate(program.get("circuit") or [], qubits)
        except ValueError as error:
            return _error(400, "InvalidInput", str(error))
        noise = BACKENDS[backend]["noise"] if backend != "simulator" else NOISE_MODELS[model]
        if noise:
            seed = (body.get("noise") or {}).get("seed")
            probabilities = _noisy_sample(probabilities, noise, shots, seed)
        job = FakeJob(
            id=str(uuid.uuid4()),
            request=body,
            submitted_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            qubits=qubits,
            gate_counts=counts,
        )
        job.probabilities = {str(k): float(p) for k, p in enumerate(probabilities) if p > 1e-12}
        if self._failures:
            code, message = self._failures.pop(0)
            job.failure = {"code": code, "message": message}
        with self._lock:
            self.jobs[job.id] = job
        return 201, {"id": job.id, "status": "submitted", "session_id": None}, {}

    def _advance(self, job: FakeJob) -> None:
        if job.status in ("completed", "failed", "canceled"):
            return
        if self._hold:
            job.status = "started"
        else:
            job.status = "failed" if job.failure else "completed"

    def _job_view(self, job: FakeJob) -> dict[str, Any]:
        self._advance(job)
        body = job.request
        done = job.status == "completed"
        view: dict[str, Any] = {
            "id": job.id,
            "status": job.status,
            "type": body["type"],
            "backend": body["backend"],
            "dry_run": bool(body.get("dry_run", False)),
            "cost_model": "quantum_compute_time",
            "submitter_id": "fake-submitter",
            "project_id": "fake-project",
            "parent_job_id": None,
            "child_job_ids": None,
            "session_id": None,
            "metadata": body.get("metadata"),
            "name": body.get("name"),
            "submitted_at": job.submitted_at,
            "started_at": job.submitted_at if job.status != "submitted" else None,
            "completed_at": job.submitted_at if done else None,
            "predicted_wait_time_ms": None,
            "predicted_execution_duration_ms": 12,
            "execution_duration_ms": 12 if done else None,
            "shots": body["shots"],
            "failure": job.failure if job.status == "failed" else None,
            "output": {},
            "settings": body.get("settings") or {"compilation": {}},
            "stats": {"qubits": job.qubits, "circuits": 1, "gate_counts": job.gate_counts},
            "results": {"probabilities": {"url": f"{PREFIX}/jobs/{job.id}/results/probabilities"}}
            if done
            else None,
        }
        if body["backend"] == "simulator":
            view["noise"] = body.get("noise") or {"model": "ideal"}
        return view

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], presented: str
    ) -> tuple[int, Any, dict[str, str]] | str | None:
        """(status, body, extra headers), "create" for a submit to create, None: never answer."""
        parts = path.removeprefix(PREFIX).strip("/").split("/")
        endpoint = _endpoint(method, parts)
        if endpoint is None:
            return _error(404, "NotFound", f"no route {method} {path}")
        if endpoint == "submit":
            with self._lock:
                self.submits += 1
        if endpoint in self.hung:
            return None
        if endpoint in ("backends", "backend"):
            return self._backends(parts)
        if presented != f"apiKey {self.api_key}":
            message = "Invalid API key"
            if self.echo_key_in_errors:
                message += f" ({presented!r})"
            return _error(401, "Unauthorized", message)
        if endpoint == "submit":
            with self._lock:
                if self._rate_limit_after > 0:
                    self._rate_limit_after -= 1
                elif self._rate_limited > 0:
                    self._rate_limited -= 1
                    status, body, _ = _error(429, "TooManyRequests", "slow down")
                    return status, body, {"Retry-After": f"{self._retry_after:g}"}
            return "create"
        if endpoint == "list":
            return 200, self._list(query), {}
        job = self.jobs.get(parts[1])
        if job is None:
            return _error(404, "NotFound", f"job {parts[1]} not found")
        if endpoint == "job":
            return 200, self._job_view(job), {}
        if endpoint == "cancel":
            if job.status in ("submitted", "ready", "started"):
                job.status = "canceled"
            return 200, {"id": job.id, "status": "canceled"}, {}
        # results
        self._advance(job)
        if job.status != "completed":
            return _error(404, "NotFound", "job not completed")
        return 200, job.probabilities, {}

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        jobs = list(reversed(list(self.jobs.values())))  # newest first
        if "target" in query:
            targets = {t for value in query["target"] for t in value.split(",")}
            jobs = [j for j in jobs if j.request["backend"] in targets]
        if "ids" in query:
            wanted = {i for value in query["ids"] for i in value.split(",")}
            jobs = [j for j in jobs if j.id in wanted]
        if "next" in query:
            order = [j.id for j in jobs]
            cursor = query["next"][0]
            jobs = jobs[order.index(cursor) if cursor in order else len(order) :]
        views = [self._job_view(j) for j in jobs]
        if "status" in query:
            views = [v for v in views if v["status"] == query["status"][0]]
        limit = int(query.get("limit", ["25"])[0])
        page, rest = views[:limit], views[limit:]
        if self._held_submit is not None:  # this listing has been made without the held job
            self._held_submit.set()
            self._held_submit = None
        for view in page:
            view.pop("child_job_ids", None)
        return {"jobs": page, "next": rest[0]["id"] if rest else None}

    def _backends(self, parts: list[str]) -> tuple[int, Any, dict[str, str]]:
        def view(name: str) -> dict[str, Any]:
            return {
                "backend": name,
                "qubits": BACKENDS[name]["qubits"],
                "last_updated": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                **self.backend_status[name],
            }

        if len(parts) == 1:
            return 200, [view(name) for name in BACKENDS], {}
        if parts[1] not in BACKENDS:
            return _error(404, "NotFound", f"backend {parts[1]} not found")
        return 200, view(parts[1]), {}


def _endpoint(method: str, parts: list[str]) -> str | None:
    if parts[0] == "backends" and method == "GET":
        return "backends" if len(parts) == 1 else "backend" if len(parts) == 2 else None
    if parts[0] != "jobs":
        return None
    if len(parts) == 1:
        return {"POST": "submit", "GET": "list"}.get(method)
    if len(parts) == 2 and method == "GET":
        return "job"
    if parts[2:] == ["results", "probabilities"] and method == "GET":
        return "results"
    if parts[2:] == ["status", "cancel"] and method == "PUT":
        return "cancel"
    return None


def _error(status: int, kind: str, message: str) -> tuple[int, Any, dict[str, str]]:
    # The v0.4 error body: {"statusCode", "error", "message"} (qiskit-ionq parses this shape).
    return status, {"statusCode": status, "error": kind, "message": message}, {}


class _Handler(BaseHTTPRequestHandler):
    owner: FakeIonQ
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        fake = self.owner
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        query = parse_qs(split.query)
        headers = {k: v for k, v in self.headers.items()}
        fake.requests.append(RecordedRequest(method, split.path, query, headers, body))
        presented = self.headers.get("Authorization", "")
        routed = fake.handle(method, split.path, query, presented)
        answer: tuple[int, Any, dict[str, str]] | None
        if routed == "create":
            if not isinstance(body, dict):
                answer = _error(400, "InvalidInput", "expected a JSON object")
            else:
                if fake._hold_next_submit:
                    fake._hold_next_submit = False
                    fake._held_submit = threading.Event()
                    fake._held_submit.wait(60)
                answer = fake._create(body)
                if fake._lose_next_answer and answer[0] == 201:
                    fake._lose_next_answer = False
                    answer = None
        else:
            answer = None if isinstance(routed, str) else routed
        if answer is None:
            fake._released.wait(60)
            self.close_connection = True
            return
        status, payload, extra = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


# --- simulation ------------------------------------------------------------------------------

_ONE_QUBIT = {
    "x": "x",
    "not": "x",
    "y": "y",
    "z": "z",
    "h": "h",
    "s": "s",
    "si": "sdg",
    "t": "t",
    "ti": "tdg",
    "v": "sx",
    "vi": "sxdg",
}
_ROTATIONS = {"rx": "rx", "ry": "ry", "rz": "rz"}
_TWO_QUBIT_ROTATIONS = {"xx": "rxx", "yy": "ryy", "zz": "rzz"}


def _simulate(gates: list[dict[str, Any]], qubits: int) -> tuple[np.ndarray, dict[str, int]]:
    """Exact probabilities (index = measured integer, qubit 0 least significant) and gate counts."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import library
    from qiskit.quantum_info import Statevector

    if qubits < 1:
        raise ValueError("input.qubits must be at least 1")
    circuit = QuantumCircuit(qubits)
    counts = {"1q": 0, "2q": 0}

    def indices(gate: dict[str, Any], single: str, many: str) -> list[int]:
        values = gate.get(many)
        if values is None:
            values = [gate[single]] if single in gate else []
        result = [int(v) for v in values]
        if any(not 0 <= q < qubits for q in result):
            raise ValueError(f"gate {gate} addresses a qubit outside 0..{qubits - 1}")
        return result

    for gate in gates:
        name = gate.get("gate")
        targets = indices(gate, "target", "targets")
        controls = indices(gate, "control", "controls")
        if name == "cnot":
            name = "x"
        rotation = float(gate.get("rotation") or 0.0)
        if name in _ONE_QUBIT:
            operation = getattr(library, _class(_ONE_QUBIT[name]))()
        elif name in _ROTATIONS:
            operation = getattr(library, _class(_ROTATIONS[name]))(rotation)
        elif name in _TWO_QUBIT_ROTATIONS:
            operation = getattr(library, _class(_TWO_QUBIT_ROTATIONS[name]))(rotation)
        elif name == "swap":
            operation = library.SwapGate()
        else:
            raise ValueError(f"unsupported qis gate {name!r}")
        if "rotation" in gate and name == "z" and controls:
            operation = library.PhaseGate(rotation)  # qiskit-ionq's cp -> z + rotation
        if len(targets) != operation.num_qubits:
            raise ValueError(f"gate {name!r} needs {operation.num_qubits} target(s)")
        if controls:
            operation = operation.control(len(controls))
        circuit.append(operation, controls + targets)
        counts["1q" if len(controls) + len(targets) == 1 else "2q"] += 1
    return Statevector(circuit).probabilities(), counts


def _class(name: str) -> str:
    return {
        "x": "XGate",
        "y": "YGate",
        "z": "ZGate",
        "h": "HGate",
        "s": "SGate",
        "sdg": "SdgGate",
        "t": "TGate",
        "tdg": "TdgGate",
        "sx": "SXGate",
        "sxdg": "SXdgGate",
        "rx": "RXGate",
        "ry": "RYGate",
        "rz": "RZGate",
        "rxx": "RXXGate",
        "ryy": "RYYGate",
        "rzz": "RZZGate",
    }[name]


def _noisy_sample(
    probabilities: np.ndarray, noise: float, shots: int, seed: int | None
) -> np.ndarray:
    mixed = (1 - noise) * probabilities + noise / len(probabilities)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(shots, mixed / mixed.sum())
    return counts / shots

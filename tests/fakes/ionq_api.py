"""A loopback fake of IonQ's REST API v0.4, the part qiskit-ionq 1.1.1 and qorch's adapter call.

A real HTTP server on 127.0.0.1 (a free port) with the paths, status codes and JSON shapes of
https://api.ionq.co/v0.4:

- `POST /v0.4/jobs` (`ionq.circuit.v1`, or `ionq.multi-circuit.v1` with `input.circuits`: at
  most MAX_CIRCUITS_PER_JOB circuits and MAX_GATES_PER_JOB gates, one child job per circuit;
  gateset `qis`) -> 201 `{"id", "status", "session_id"}` (+ `child_job_ids`)
- `GET /v0.4/jobs` (filters `target`, `status`, `ids`, paging `limit`/`next`, newest first;
  child jobs too, with `parent_job_id` and their parent's metadata)
- `GET /v0.4/jobs/{id}` (a parent lists `child_job_ids`),
  `GET /v0.4/jobs/{id}/results/probabilities` (keys: the measured integer, qubit 0 = least
  significant bit; a multi-circuit job's: child job id -> those of each child that completed),
  `PUT /v0.4/jobs/{id}/status/cancel` (its children too)
- `GET /v0.4/jobs/{id}/cost` -> `{"dry_run", "estimated_cost", "cost": {"value", "unit": "usd"}}`
  once the job is final: IonQ's list price (per-job minimum, per gate-shot) of what completed
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
keep jobs running, `fail_next_jobs(...)` makes jobs fail, `fail_circuits_of_next_job(...)` makes
chosen child jobs of the next multi-circuit job fail, `report_cost(usd)` / `withhold_costs()`
change the cost answer, `set_backend_status(...)`. Every request is recorded (`requests`,
`submits`); `creates` counts the jobs created (`jobs` holds them, `children` their child jobs).
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

from tests.fakes.ionq_simulation import noisy_sample, simulate

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

MAX_CIRCUITS_PER_JOB = 5000
MAX_GATES_PER_JOB = 150_000
"""IonQ's limits on one multi-circuit job (v0.4 create-job reference)."""
LIST_PRICES = {"1q": 0.00022, "2q": 0.000975, "minimum": 12.4166, "minimum_debiased": 97.50}
"""What the fake charges a QPU job: max(minimum, shots x sum of gate-shot prices), USD."""

# Endpoint names for `hang(...)`.
ENDPOINTS = ("submit", "list", "job", "results", "cancel", "cost", "backends", "backend")


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
    parent_id: str | None = None
    children: list[str] = field(default_factory=list)
    partial_status: str = "completed"
    """A parent's final status when some (not all) of its children failed."""


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
        """Jobs created by POST /jobs (a multi-circuit job's children are in `children`)."""
        self.children: dict[str, FakeJob] = {}
        self.creates = 0
        self._created: list[FakeJob] = []
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
        self._child_failures: dict[int, tuple[str, str]] = {}
        self._partial_status = "completed"
        self._fixed_cost: float | None = None
        self._withhold_costs = False
        self.aggregate_results = True
        """False: a multi-circuit job's results endpoint answers 404 (read each child's)."""
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

    def fail_circuits_of_next_job(
        self,
        *indices: int,
        code: str = "SimulationError",
        message: str = "",
        parent_status: str = "completed",
    ) -> None:
        """The child jobs at `indices` of the next multi-circuit job fail; the parent ends
        `parent_status` if others completed (`failed` if none did)."""
        self._child_failures = {i: (code, message or f"{code} in the fake") for i in indices}
        self._partial_status = parent_status

    def report_cost(self, usd: float) -> None:
        """Every final job costs `usd` (a contract rate the price table does not know)."""
        self._fixed_cost = usd

    def withhold_costs(self) -> None:
        """The cost endpoint answers no `cost` (as before IonQ has billed a job)."""
        self._withhold_costs = True

    def job(self, job_id: str) -> FakeJob | None:
        return self.jobs.get(job_id) or self.children.get(job_id)

    def set_backend_status(self, backend: str, **values: Any) -> None:
        self.backend_status[backend].update(values)

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # --- behaviour -------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        backend = body.get("backend")
        if backend not in BACKENDS:
            return _error(400, "InvalidInput", f"unknown backend {backend!r}")
        kind = body.get("type")
        if kind not in ("ionq.circuit.v1", "ionq.multi-circuit.v1"):
            return _error(
                400,
                "InvalidInput",
                f"the fake runs ionq.circuit.v1 and ionq.multi-circuit.v1, not {kind}",
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
        if kind == "ionq.multi-circuit.v1":
            circuits = program.get("circuits")
            if not isinstance(circuits, list) or not circuits:
                return _error(400, "InvalidInput", "input.circuits must be a non-empty list")
            if len(circuits) > MAX_CIRCUITS_PER_JOB:
                return _error(400, "InvalidInput", f"at most {MAX_CIRCUITS_PER_JOB} circuits")
            if sum(len(c.get("circuit") or []) for c in circuits) > MAX_GATES_PER_JOB:
                return _error(400, "InvalidInput", f"at most {MAX_GATES_PER_JOB} gates in all")
            programs = [(c.get("name"), c.get("circuit") or []) for c in circuits]
        else:
            programs = [(body.get("name"), program.get("circuit") or [])]
        simulated = []
        for _, gates in programs:
            try:
                probabilities, counts = simulate(gates, qubits)
            except ValueError as error:
                return _error(400, "InvalidInput", str(error))
            noise = BACKENDS[backend]["noise"] if backend != "simulator" else NOISE_MODELS[model]
            if noise:
                seed = (body.get("noise") or {}).get("seed")
                probabilities = noisy_sample(probabilities, noise, shots, seed)
            simulated.append((probabilities, counts))
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        failure = self._failures.pop(0) if self._failures else None
        if kind == "ionq.circuit.v1":
            job = self._job(body, now, qubits, *simulated[0], failure)
            with self._lock:
                self.jobs[job.id] = job
                self._created.append(job)
                self.creates += 1
            return 201, {"id": job.id, "status": "submitted", "session_id": None}, {}
        parent = FakeJob(id=str(uuid.uuid4()), request=body, submitted_at=now, qubits=qubits)
        parent.partial_status = self._partial_status
        children = []
        for index, ((name, gates), (probabilities, counts)) in enumerate(
            zip(programs, simulated, strict=True)
        ):
            child_body = {
                **body,
                "type": "ionq.circuit.v1",
                "name": name,
                "input": {"gateset": "qis", "qubits": qubits, "circuit": gates},
            }
            child = self._job(
                child_body,
                now,
                qubits,
                probabilities,
                counts,
                failure or self._child_failures.get(index),
            )
            child.parent_id = parent.id
            children.append(child)
        parent.children = [child.id for child in children]
        parent.gate_counts = {
            kind: sum(child.gate_counts.get(kind, 0) for child in children) for kind in ("1q", "2q")
        }
        self._child_failures, self._partial_status = {}, "completed"
        with self._lock:
            self.jobs[parent.id] = parent
            self.children.update((child.id, child) for child in children)
            self._created.extend([parent, *children])
            self.creates += 1
        answer = {
            "id": parent.id,
            "status": "submitted",
            "session_id": None,
            "child_job_ids": parent.children,
        }
        return 201, answer, {}

    def _job(
        self,
        body: dict[str, Any],
        now: str,
        qubits: int,
        probabilities: np.ndarray,
        counts: dict[str, int],
        failure: tuple[str, str] | None,
    ) -> FakeJob:
        job = FakeJob(
            id=str(uuid.uuid4()),
            request=body,
            submitted_at=now,
            qubits=qubits,
            gate_counts=counts,
        )
        job.probabilities = {str(k): float(p) for k, p in enumerate(probabilities) if p > 1e-12}
        if failure is not None:
            code, message = failure
            job.failure = {"code": code, "message": message}
        return job

    def _advance(self, job: FakeJob) -> None:
        if job.status in ("completed", "failed", "canceled"):
            return
        if self._hold:
            job.status = "started"
            return
        if not job.children:
            job.status = "failed" if job.failure else "completed"
            return
        children = [self.children[child] for child in job.children]
        for child in children:
            self._advance(child)
        failed = [child for child in children if child.status != "completed"]
        if len(failed) == len(children):
            job.status, job.failure = "failed", failed[0].failure
        elif failed:
            job.status = job.partial_status
            if job.status == "failed":
                job.failure = {
                    "code": "PartialFailure",
                    "message": f"{len(failed)} circuits failed",
                }
        else:
            job.status = "completed"

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
            "parent_job_id": job.parent_id,
            "child_job_ids": list(job.children) or None,
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
            "stats": {
                "qubits": job.qubits,
                "circuits": len(job.children) or 1,
                "gate_counts": job.gate_counts,
            },
            "results": {"probabilities": {"url": f"{PREFIX}/jobs/{job.id}/results/probabilities"}}
            if done
            else None,
        }
        if body["backend"] == "simulator":
            view["noise"] = body.get("noise") or {"model": "ideal"}
        return view

    def _results(self, job: FakeJob) -> tuple[int, Any, dict[str, str]]:
        self._advance(job)
        if job.status != "completed":
            return _error(404, "NotFound", "job not completed")
        if not job.children:
            return 200, job.probabilities, {}
        if not self.aggregate_results:
            return _error(404, "NotFound", "read the results of each child job")
        children = [self.children[child] for child in job.children]
        return 200, {c.id: c.probabilities for c in children if c.status == "completed"}, {}

    def _cost(self, job: FakeJob) -> dict[str, Any]:
        self._advance(job)
        body = job.request
        debiased = ((body.get("settings") or {}).get("error_mitigation") or {}).get("debiasing")
        minimum = LIST_PRICES["minimum_debiased" if debiased else "minimum"]

        def gate_shots(ran: FakeJob) -> float:
            counts = ran.gate_counts
            price = (
                counts.get("1q", 0) * LIST_PRICES["1q"] + counts.get("2q", 0) * LIST_PRICES["2q"]
            )
            return float(body["shots"] * price)

        completed = [self.children[c] for c in job.children] or [job]
        completed = [ran for ran in completed if ran.status == "completed"]
        if body["backend"] == "simulator" or not completed:
            usd = 0.0
        elif self._fixed_cost is not None:
            usd = self._fixed_cost
        else:
            usd = max(minimum, sum(gate_shots(ran) for ran in completed))
        answer: dict[str, Any] = {
            "dry_run": False,
            "estimated_cost": {"value": round(usd, 2), "unit": "usd"},
        }
        final = job.status in ("completed", "failed", "canceled")
        if final and not self._withhold_costs:
            answer["cost"] = {"value": round(usd, 2), "unit": "usd"}
        return answer

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
        job = self.job(parts[1])
        if job is None:
            return _error(404, "NotFound", f"job {parts[1]} not found")
        if endpoint == "job":
            return 200, self._job_view(job), {}
        if endpoint == "cost":
            return 200, self._cost(job), {}
        if endpoint == "cancel":
            for target in [job, *(self.children[c] for c in job.children)]:
                if target.status in ("submitted", "ready", "started"):
                    target.status = "canceled"
            return 200, {"id": job.id, "status": "canceled"}, {}
        return self._results(job)

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        jobs = list(reversed(self._created))  # newest first
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
    if parts[2:] == ["cost"] and method == "GET":
        return "cost"
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

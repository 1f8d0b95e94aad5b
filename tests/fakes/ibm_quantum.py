"""Fakes of IBM Quantum for the IBM adapter's tests (no network beyond 127.0.0.1).

`FakeIBMQuantum` stands in for `QiskitRuntimeService` at the Python level (qiskit-ibm-runtime
derives several host names from one URL, e.g. `iam.<host>`, so its REST API cannot be pointed at
one loopback server). It is driven by the REAL client-side primitives: its backends are
`IBMBackend` objects, so `executor_sampler.Sampler` / `executor_estimator.Estimator` take the
remote path, encode the job as the executor program JSON the platform receives (schema v2.0,
with the runtime options: backend, job tags, max execution time) and hand it to
`service._run`. The fake decodes that JSON with the SDK's own converters and runs the program
on the noisy simulator of a small fake device (the local executor of qiskit-ibm-runtime), so
results are really simulated; retrieved results are decoded by the SDK's default decoders like
a real job's. Every backend name is served by the same small device (FakeManilaV2 by default):
IBM's QPUs are too big to simulate this way, and the adapter transpiles to whatever target the
service gives it.

Jobs move QUEUED -> RUNNING -> DONE over `pending_polls` status reads, or end in ERROR /
CANCELLED as scripted; a final job's metrics bill `usage_seconds` of QPU time (or stay `pending`,
`usage_pending`). Every call is recorded in `calls`; `creates` counts the jobs created.

`FakeIAM` is a loopback HTTP server for IBM Cloud IAM's token endpoint (`POST /identity/token`;
the SDK reads the `IAM_URL` environment variable): it answers an unknown API key with IAM's 400
`BXNIM0415E`, or hangs without answering (`hang=True`) until it is closed.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.parse
from functools import reduce
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from qiskit_ibm_runtime.decoders.defaults import DEFAULT_DECODERS
from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError, RuntimeJobNotFound
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from qiskit_ibm_runtime.fake_provider.executor.run_quantum_program import run_quantum_program
from qiskit_ibm_runtime.ibm_backend import IBMBackend
from qiskit_ibm_runtime.models import BackendStatus
from qiskit_ibm_runtime.quantum_program.params_converters import (
    QUANTUM_PROGRAM_PARAMS_CONVERTERS,
)


class FakeQPU(IBMBackend):
    """An IBMBackend whose calibration data come from a fake device (no API client)."""

    def __init__(self, name: str, device: Any, service: FakeIBMQuantum) -> None:
        configuration = device.configuration()
        configuration.backend_name = name
        super().__init__(configuration=configuration, service=service, api_client=None)
        self._device = device
        self._fake_service = service

    @property
    def target(self) -> Any:
        return self._device.target

    def properties(self, refresh: bool = False, datetime: Any = None) -> Any:
        return self._device.properties()

    def status(self) -> BackendStatus:
        self._fake_service.calls.append(("status", self.name))
        operational, pending, message = self._fake_service.backend_status
        return BackendStatus(
            backend_name=self.name,
            backend_version="1.0.0",
            operational=operational,
            pending_jobs=pending,
            status_msg=message,
        )


class FakeRuntimeJob:
    def __init__(
        self,
        service: FakeIBMQuantum,
        job_id: str,
        backend: str,
        tags: list[str],
        inputs: dict[str, Any],
    ) -> None:
        self._service = service
        self._id = job_id
        self.backend_name = backend
        self.tags = list(tags)
        self.inputs = inputs
        self.pending = service.pending_polls
        self.state = "QUEUED"
        self.failure: tuple[int, str] | None = service.fail_next
        service.fail_next = None
        self._result: Any = None

    def job_id(self) -> str:
        return self._id

    def status(self) -> str:
        self._service.calls.append(("job.status", self._id))
        if self.state in ("DONE", "ERROR", "CANCELLED"):
            return self.state
        if self.pending > 0:
            self.pending -= 1
            self.state = "RUNNING" if self.pending == 0 else "QUEUED"
            return self.state
        self.state = "ERROR" if self.failure else "DONE"
        return self.state

    def error_message(self) -> str | None:
        if self.failure is None:
            return None
        code, reason = self.failure
        return f"Error code {code}; {reason}"

    def result(self) -> Any:
        self._service.calls.append(("job.result", self._id))
        if self.state != "DONE":
            raise RuntimeInvalidStateError(f"job {self._id} is {self.state}")
        if self._result is None:
            self._result = self._service.simulate(self.inputs)
        return self._result

    def metrics(self) -> dict[str, Any]:
        """As IBM answers: billed QPU time, `pending` until computed after the job ends."""
        self._service.calls.append(("job.metrics", self._id))
        pending = self.state not in ("DONE", "ERROR", "CANCELLED") or self._service.usage_pending
        seconds = 0 if pending else self._service.usage_seconds
        return {
            "usage": {
                "qpu_charge_time_seconds": seconds,
                "quantum_seconds": seconds,
                "seconds": seconds,
                "status": "pending" if pending else "completed",
            }
        }

    def usage(self) -> float:
        return float(self.metrics()["usage"]["qpu_charge_time_seconds"])

    def cancel(self) -> None:
        self._service.calls.append(("job.cancel", self._id))
        if self.state in ("DONE", "ERROR", "CANCELLED"):
            raise RuntimeInvalidStateError(f"Job cannot be cancelled: it is {self.state}")
        self.state = "CANCELLED"


class FakeIBMQuantum:
    """What the adapter uses of QiskitRuntimeService, backed by a simulated device."""

    is_local = False  # the primitives take the remote (encode + submit) path

    def __init__(self, device_factory: Any = FakeManilaV2, pending_polls: int = 1) -> None:
        self.device = device_factory()
        self.pending_polls = pending_polls
        self.fail_next: tuple[int, str] | None = None
        self.usage_seconds = 2.5
        """QPU seconds billed per job (metrics `usage.qpu_charge_time_seconds`)."""
        self.usage_pending = False
        """IBM has not computed usage yet: metrics say `pending`, usage() is 0."""
        self.backend_status: tuple[bool, int, str] = (True, 3, "active")
        self.calls: list[tuple[Any, ...]] = []
        self.submitted: list[FakeRuntimeJob] = []
        self._jobs: dict[str, FakeRuntimeJob] = {}
        self._ids = itertools.count(1)

    # --- the service API the adapter and the primitives call ---

    def backend(self, name: str) -> FakeQPU:
        self.calls.append(("backend", name))
        return FakeQPU(name, self.device, self)

    def _run(
        self,
        program_id: str,
        inputs: dict[str, Any],
        options: dict[str, Any],
        calibration_id: str | None = None,
        dry_run: bool = False,
    ) -> FakeRuntimeJob:
        assert program_id == "executor", program_id
        wire = json.loads(json.dumps(inputs))  # what crosses the network
        tags = list(options.get("job_tags") or [])
        job = FakeRuntimeJob(self, f"fake-job-{next(self._ids)}", options["backend"], tags, wire)
        self.calls.append(("run", options["backend"], tuple(tags)))
        self._jobs[job.job_id()] = job
        self.submitted.append(job)
        return job

    def jobs(
        self,
        limit: int | None = 10,
        backend_name: str | None = None,
        job_tags: list[str] | None = None,
        **_: Any,
    ) -> list[FakeRuntimeJob]:
        self.calls.append(("jobs", tuple(job_tags or ()), backend_name))
        found = [
            job
            for job in reversed(self.submitted)
            if set(job_tags or ()) <= set(job.tags)
            and (backend_name is None or job.backend_name == backend_name)
        ]
        return found[:limit] if limit else found

    def job(self, job_id: str) -> FakeRuntimeJob:
        self.calls.append(("job", job_id))
        if job_id not in self._jobs:
            raise RuntimeJobNotFound(f"Job not found: {job_id}")
        return self._jobs[job_id]

    # --- the simulated platform ---

    def simulate(self, inputs: dict[str, Any]) -> Any:
        converter = QUANTUM_PROGRAM_PARAMS_CONVERTERS[inputs["schema_version"]]
        program, executor_options = converter.decoder(converter.model.model_validate(inputs))
        for item in program.items:
            samplex = getattr(item, "samplex", None)
            if samplex is not None:
                samplex.finalize()
        result = run_quantum_program(self.device, program, executor_options.simulator)
        return reduce(
            lambda value, decoder: decoder.decode(value) if decoder.is_applicable(value) else value,
            DEFAULT_DECODERS["executor"],
            result,
        )

    def count(self, name: str) -> int:
        return sum(1 for call in self.calls if call[0] == name)

    @property
    def creates(self) -> int:
        """Primitive jobs created on the platform."""
        return len(self.submitted)


class FakeIAM:
    """IBM Cloud IAM's token endpoint on 127.0.0.1: every API key is unknown (400)."""

    def __init__(self, hang: bool = False) -> None:
        self.hang = hang
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                fake.requests.append({"path": self.path, "form": form})
                if fake.hang:
                    fake.release.wait(30)
                    self.close_connection = True
                    return
                body = json.dumps(
                    {
                        "errorCode": "BXNIM0415E",
                        "errorMessage": "Provided API key could not be found.",
                        "context": {"requestId": "fake", "requestType": "incoming.Identity_Token"},
                    }
                ).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> FakeIAM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

"""A user runs on remote providers through a real qorch process, the providers' real SDKs
pointed at loopback fakes: credentials never leak anywhere, and a restart between submit and
result re-attaches to the provider's job instead of paying for a second one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BELL_QASM2
from tests.e2e.servers import Server, free_port
from tests.fakes.braket_api import FakeBraket
from tests.fakes.ionq_api import FakeIonQ

pytestmark = pytest.mark.slow

AWS_KEY_ID = "AKIAFAKEKEYID0000042"
AWS_SECRET = "aws-SECRET-wJalrXUtnFEMIK7MDENGbPxRfiCY0042"
IONQ_KEY = "ionq-SECRET-2f1c9d7e5b3a41c8"
IBM_TOKEN = "ibm-SECRET-not-a-valid-token"
SECRETS = (AWS_KEY_ID, AWS_SECRET, IONQ_KEY, IBM_TOKEN)

AWS = {"aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET}
IONQ = {"ionq_api_key": IONQ_KEY}
IBM = {"ibm_quantum_token": IBM_TOKEN, "ibm_quantum_instance": "crn:v1:fake-instance"}


@pytest.fixture
def braket_api() -> Iterator[FakeBraket]:
    with FakeBraket(accepted_keys={AWS_KEY_ID}) as fake:
        yield fake


@pytest.fixture
def ionq_api() -> Iterator[FakeIonQ]:
    with FakeIonQ(IONQ_KEY) as fake:
        yield fake


def provider_env(braket_api: FakeBraket, ionq_api: FakeIonQ) -> dict[str, str]:
    return {
        "QORCH_BRAKET_ENDPOINT_URL": braket_api.url,
        "QORCH_BRAKET_S3_BUCKET": "qorch-results",
        "QORCH_IONQ_API_URL": ionq_api.url,
        "QORCH_PROVIDER_POLL_INTERVAL": "0.1",
        "QORCH_PROVIDER_CALL_TIMEOUT": "30",
        "QORCH_LOG_LEVEL": "INFO",
    }


class Client:
    """Talks to the server and keeps every answer it got, to search them for secrets."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.answers: list[str] = []

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.server.call(method, path, **kwargs)
        self.answers.append(answer.text)
        assert answer.status_code < 500, answer.text + "".join(self.server.output[-40:])
        return answer

    def experiment(self) -> str:
        answer = self.call("POST", "/experiments", json={"name": "providers"})
        return str(answer.json()["id"])

    def run(self, experiment_id: str, device_id: str, **body: Any) -> str:
        answer = self.call(
            "POST",
            "/ai/run_circuits_on_qpu_or_simulator",
            json={
                "experiment_id": experiment_id,
                "circuits_qasm": [BELL_QASM2],
                "device_id": device_id,
                "shots": 500,
                **body,
            },
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["job"]["id"])

    def final(self, job_id: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"/jobs/{job_id}", params={"wait": 10}).json()
            if job["status"] in ("Done", "Error", "Cancelled"):
                return dict(job)
        raise AssertionError(f"job {job_id} is still {job['status']}")

    def until(self, job_id: str, check: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"/jobs/{job_id}").json()
            if check(job):
                return dict(job)
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} never got there: {job}")


def bell_is_even(job: dict[str, Any]) -> None:
    assert job["status"] == "Done", job.get("error")
    (counts,) = job["counts"]
    assert set(counts) <= {"00", "11"} or sum(counts.get(k, 0) for k in ("01", "10")) < 50
    assert abs(counts.get("00", 0) - 250) < 5 * 11.2


def test_credentials_never_appear_in_the_store_the_logs_the_answers_or_the_dashboard(
    tmp_path: Path, braket_api: FakeBraket, ionq_api: FakeIonQ
):
    server = Server(tmp_path, free_port(), env=provider_env(braket_api, ionq_api))
    server.start()
    client = Client(server)
    try:
        experiment = client.experiment()
        jobs = {
            "braket": client.run(experiment, "braket_ionq_aria", options=AWS),
            "ionq": client.run(experiment, "ionq_simulator", options=IONQ),
            "ibm_local": client.run(experiment, "runtime_fake_manila", options=IBM),
            "ibm_bad_token": client.run(experiment, "ibm_brisbane", options=IBM),
            "braket_dry": client.run(experiment, "braket_ionq_forte", options=AWS, dry_run=True),
            "ionq_dry": client.run(experiment, "ionq_aria_1", options=IONQ, dry_run=True),
            "ibm_dry": client.run(experiment, "ibm_torino", options=IBM, dry_run=True),
        }
        final = {name: client.final(job_id) for name, job_id in jobs.items()}

        bell_is_even(final["braket"])
        bell_is_even(final["ionq"])
        assert final["ibm_local"]["status"] == "Done"
        assert final["ibm_bad_token"]["status"] == "Error"
        assert final["ibm_bad_token"]["error"]["code"] == "invalid_credentials"
        for name in ("braket_dry", "ionq_dry", "ibm_dry"):
            assert final[name]["estimated_qpu_cost"]["converted"]["amount"] > 0
        assert final["braket"]["credentials_supplied"] == sorted(AWS)
        assert final["braket"]["provider_job"]["provider"] == "braket"
        # The providers saw the credentials (they are used), and only for real runs.
        assert braket_api.creates == 1
        assert any(r.access_key_id == AWS_KEY_ID for r in braket_api.requests)
        assert len([r for r in ionq_api.requests if r.method == "POST"]) == 1

        client.call("GET", "/ai/get_job_results_and_status", params={"job_id": jobs["braket"]})
        client.call("GET", f"/jobs/{jobs['braket']}/events")
        client.call("GET", "/jobs", params={"include_inputs": "true"})
        listed = client.call(
            "POST", "/ai/list_qpus_and_simulators", json={"options": {**AWS, **IONQ}}
        ).json()["devices"]
        live = {d["id"]: d.get("live") for d in listed}
        assert live["braket_ionq_aria"]["status"] == "online"
        assert isinstance(live["braket_ionq_aria"]["queue_length"], int)
        assert live["ionq_aria_1"]["status"] == "online"
        assert live["ibm_brisbane"] is None and live["aer_simulator"] is None  # no IBM token given
        pages = dashboard_pages(server, [*jobs.values()])
    finally:
        server.stop()

    for secret in SECRETS:
        assert secret not in "".join(server.output), f"{secret} is in the server's log"
        assert not [a for a in client.answers if secret in a], f"{secret} is in an answer"
        assert not [p for p in pages if secret in p], f"{secret} is on a dashboard page"
        leaked = [
            f.name for f in tmp_path.rglob("*") if f.is_file() and secret.encode() in f.read_bytes()
        ]
        assert leaked == [], f"{secret} is in {leaked}"
    # Held credentials are destroyed once their jobs end.
    from qorch.adapters.vault import CredentialVault
    from qorch.settings import Settings

    assert CredentialVault(Settings(data_dir=tmp_path)).held_jobs() == []


def dashboard_pages(server: Server, job_ids: list[str]) -> list[str]:
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        signed_in = browser.post("/dashboard/sign-in", data={"api_key": server.key})
        assert signed_in.status_code < 400
        paths = ["/dashboard", "/dashboard/jobs", *[f"/dashboard/jobs/{j}" for j in job_ids]]
        pages = []
        for path in paths:
            page = browser.get(path, follow_redirects=True)
            assert page.status_code == 200, path
            pages.append(page.text)
        return pages


def test_a_restart_between_submit_and_result_re_attaches_to_the_provider_job(
    tmp_path: Path, braket_api: FakeBraket, ionq_api: FakeIonQ
):
    braket_api.hold()
    ionq_api.hold_jobs()
    env = provider_env(braket_api, ionq_api)
    first = Server(tmp_path, free_port(), env=env)
    first.start()
    client = Client(first)
    experiment = client.experiment()
    on_braket = client.run(experiment, "braket_ionq_aria", options=AWS)
    on_ionq = client.run(experiment, "ionq_simulator", options=IONQ)
    for job_id in (on_braket, on_ionq):
        at_provider = client.until(job_id, lambda job: job.get("provider_job"))
        assert at_provider["status"] == "Running"
    first.kill()  # kill -9: no goodbye, the claims are left behind

    second = Server(tmp_path, first.port, env=env)
    second.start()
    second.key = first.key
    client.server = second
    braket_api.release()
    ionq_api.release_jobs()
    try:
        bell_is_even(client.final(on_braket))
        bell_is_even(client.final(on_ionq))
    finally:
        second.stop()
    assert braket_api.creates == 1 and braket_api.task_count == 1
    assert ionq_api.submits == 1
    token = braket_api.calls("CreateQuantumTask")[0].client_token
    assert token == on_braket


def test_busy_providers_are_retried_without_a_second_paid_task_and_cancel_reaches_them(
    tmp_path: Path, braket_api: FakeBraket, ionq_api: FakeIonQ
):
    env = {**provider_env(braket_api, ionq_api), "QORCH_WORKER_CONCURRENCY": "1"}
    server = Server(tmp_path, free_port(), env=env)
    server.start()
    client = Client(server)
    try:
        experiment = client.experiment()
        # Braket created the task but its answer was lost (503); IonQ asks us to slow down.
        braket_api.fail_next_creates(1)
        ionq_api.rate_limit(1, retry_after=1)
        bell_is_even(client.final(client.run(experiment, "braket_ionq_aria", options=AWS)))
        bell_is_even(client.final(client.run(experiment, "ionq_simulator", options=IONQ)))
        assert braket_api.creates == 2 and braket_api.task_count == 1
        assert ionq_api.submits == 2 and len(ionq_api.jobs) == 1

        # A user cancels jobs that wait in the providers' queues: the providers hear of it.
        braket_api.hold()
        ionq_api.hold_jobs()
        queued = [
            client.run(experiment, "braket_ionq_aria", options=AWS),
            client.run(experiment, "ionq_simulator", options=IONQ),
        ]
        for job_id in queued:
            client.until(job_id, lambda job: job.get("provider_job"))
        # Jobs waiting in providers' queues do not hold the one local slot.
        assert client.final(client.run(experiment, "aer_simulator"), timeout=30)["status"] == "Done"
        for job_id in queued:
            cancelled = client.call("POST", f"/jobs/{job_id}/cancel").json()
            assert cancelled["status"] == "Cancelled"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            braket_api.calls("CancelQuantumTask") and ionq_api.requests_to("PUT", "/cancel")
        ):
            time.sleep(0.1)
        assert len(braket_api.calls("CancelQuantumTask")) == 1
        assert len(ionq_api.requests_to("PUT", "/cancel")) == 1

        # A provider that keeps failing ends the job with its own code, clearly.
        braket_api.release()
        braket_api.fail_next(
            10, status=403, code="AccessDeniedException", operation="CreateQuantumTask"
        )
        refused = client.final(client.run(experiment, "braket_ionq_aria", options=AWS))
        assert refused["status"] == "Error"
        assert refused["error"]["code"] == "invalid_credentials"
        assert refused["error"]["provider_code"] == "AccessDeniedException"
        assert refused["error"]["retryable"] is False
    finally:
        server.stop()


def test_a_job_cancelled_while_its_submit_is_in_flight_is_cancelled_at_the_provider(
    tmp_path: Path, braket_api: FakeBraket, ionq_api: FakeIonQ
):
    env = {**provider_env(braket_api, ionq_api), "QORCH_PROVIDER_CALL_TIMEOUT": "3"}
    server = Server(tmp_path, free_port(), env=env)
    server.start()
    client = Client(server)
    try:
        ionq_api.hold_jobs()
        ionq_api.lose_answer_to_next_submit()  # IonQ creates the job, its answer never comes
        job_id = client.run(client.experiment(), "ionq_simulator", options=IONQ)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and ionq_api.submits == 0:
            time.sleep(0.05)
        assert client.call("POST", f"/jobs/{job_id}/cancel").json()["status"] == "Cancelled"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not ionq_api.requests_to("PUT", "/cancel"):
            time.sleep(0.1)
    finally:
        server.stop()
    assert len(ionq_api.jobs) == 1
    assert len(ionq_api.requests_to("PUT", "/cancel")) == 1
    assert [job.status for job in ionq_api.jobs.values()] == ["canceled"]

"""A user's job on a provider whose tasks partly fail keeps what ran. Through REST, the agent
endpoint, MCP, the haiqu-sdk wire and the dashboard, the job is Done, says `partial` with how many
executions failed, and holds an error in place of each failure; when nothing ran it is Error.

The provider is a real one added for the tests (tests/http/partly_failing.py), registered the
way any provider is: one line in the registry. The server runs in this process (uvicorn in a
thread) with its executor and worker processes, as `make serve` does.
"""

from __future__ import annotations

import math
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from qorch.adapters.providers import PACKAGES
from qorch.http.app import create_app
from qorch.settings import Settings
from tests.conftest import BELL_QASM2, GHZ3_QASM2, RY_CX, settings_for
from tests.contract.echo.provider import SECRET_PREFIX, TOKEN
from tests.http.partly_failing import FAIL, NAME
from tests.mcp.conftest import Agent, LiveServer, call, free_port

FLIP_QUBIT_0 = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; x q[0]; measure q -> c;'
DEVICE = "partly_remote"
FAILED_SECOND = {"code": "provider_failed", "message": "task for parameter set 0 FAILED: lost"}
FAILED_THIRD_SET = {"code": "provider_failed", "message": "task for parameter set 2 FAILED: lost"}
SDK_HEADERS = {"haiqu-sdk-version": "1.7.0"}


class PartlyServer(LiveServer):
    """The MCP tests' live server, on settings that list the partly failing provider."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)


@pytest.fixture(scope="module")
def partly_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartlyServer]:
    with pytest.MonkeyPatch.context() as registry:
        registry.setitem(PACKAGES, NAME, "tests.http.partly_failing")
        settings = settings_for(tmp_path_factory.mktemp("partly")).with_overrides(
            providers=("local", NAME), provider_poll_interval=0.05
        )
        with PartlyServer(settings) as live:
            yield live


class User:
    def __init__(self, server: PartlyServer) -> None:
        self.server = server
        self.user_id, self.key = server.service.app.register_user(f"u-{uuid.uuid4().hex[:6]}")
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": self.key})
        self.experiment_id = self.call("POST", "/experiments", json={"name": "partial"})["id"]

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, path, timeout=90, **kwargs)
        assert answer.status_code < 300, answer.text
        assert "NaN" not in answer.text  # strict JSON: failed values are null, never NaN
        return answer.json()

    def run(self, circuits: list[str], fail: list[int], **body: Any) -> dict[str, Any]:
        submitted = self.call(
            "POST",
            "/ai/run_circuits_on_qpu_or_simulator",
            json={
                "experiment_id": self.experiment_id,
                "circuits_qasm": circuits,
                "device_id": DEVICE,
                "shots": 200,
                "options": {TOKEN: SECRET_PREFIX + "ada", FAIL: fail},
                **body,
            },
        )
        job: dict[str, Any] = self.call(
            "GET", f"/jobs/{submitted['job']['id']}", params={"wait": 60}
        )
        assert job["status"] in ("Done", "Error"), job
        return job


@pytest.fixture(scope="module")
def user(partly_server: PartlyServer) -> User:
    return User(partly_server)


@pytest.fixture(scope="module")
def one_of_three_failed(user: User) -> dict[str, Any]:
    """Three circuits; the provider's task for the second one failed."""
    return user.run([BELL_QASM2, FLIP_QUBIT_0, GHZ3_QASM2], fail=[1])


def test_the_other_circuits_results_are_kept_and_the_job_says_partial(
    one_of_three_failed: dict[str, Any],
):
    job = one_of_three_failed
    assert (job["status"], job["partial"], job["failed_executions"]) == ("Done", True, 1)
    bell, lost, ghz = job["quantum_results"]
    assert set(bell) <= {"00", "11"} and math.isclose(sum(bell.values()), 1.0)
    assert set(ghz) <= {"000", "111"} and math.isclose(sum(ghz.values()), 1.0)
    assert lost == {} and job["counts"][1] == {} and job["info"]["uncertainty"][1] == {}
    assert sum(job["counts"][0].values()) == sum(job["counts"][2].values()) == 200
    assert job["errors"] == [None, FAILED_SECOND, None]
    assert job["error"] is None


def test_a_page_of_circuits_carries_its_errors(user: User, one_of_three_failed: dict[str, Any]):
    page = user.call(
        "GET",
        f"/jobs/{one_of_three_failed['id']}",
        params={"circuit_offset": 1, "circuit_limit": 1},
    )
    assert (page["quantum_results"], page["errors"]) == ([{}], [FAILED_SECOND])


def test_the_agent_endpoint_tells_what_failed(user: User, one_of_three_failed: dict[str, Any]):
    answer = user.call(
        "POST", "/ai/get_job_results_and_status", json={"job_id": one_of_three_failed["id"]}
    )
    assert answer["job"]["errors"] == one_of_three_failed["errors"]
    assert "Partial results: 1 execution(s)" in answer["context"]
    assert "errors[1]: provider_failed: task for parameter set 0 FAILED" in answer["context"]


def test_the_listing_shows_the_job_partial(user: User, one_of_three_failed: dict[str, Any]):
    [listed] = [
        job
        for job in user.call("GET", "/jobs", params={"experiment_id": user.experiment_id})["jobs"]
        if job["id"] == one_of_three_failed["id"]
    ]
    assert (listed["partial"], listed["failed_executions"]) == (True, 1)


def test_the_haiqu_sdk_reads_the_results_in_place_and_the_failure_in_its_logs(
    user: User, one_of_three_failed: dict[str, Any]
):
    job = user.call("GET", f"/jobs/{one_of_three_failed['id']}", headers=SDK_HEADERS)
    assert job["status"] == "Done" and isinstance(job["user_id"], int)  # the SDK's shape
    assert job["quantum_results"] == one_of_three_failed["quantum_results"]
    assert job["info"]["errors"] == [None, FAILED_SECOND, None]
    assert job["logs"].startswith("partial results: 1 execution(s) failed; first at [1]")


@pytest.mark.anyio
async def test_an_agent_over_mcp_reads_the_partial_job(
    partly_server: PartlyServer, user: User, one_of_three_failed: dict[str, Any]
):
    agent = Agent(partly_server, str(user.user_id), user.key)
    async with agent.connect() as client:
        answer = await call(client, "get_job_results_and_status", job_id=one_of_three_failed["id"])
        listed = await client.list_resources()
    assert (answer["job"]["partial"], answer["job"]["failed_executions"]) == (True, 1)
    assert answer["job"]["errors"] == [None, FAILED_SECOND, None]
    assert "Partial results" in answer["context"]
    [resource] = [r for r in listed.resources if one_of_three_failed["id"] in r.uri]
    assert "partial results: 1 execution(s) failed" in (resource.description or "")


def test_the_dashboard_job_page_shows_the_error_in_its_place(
    partly_server: PartlyServer, user: User, one_of_three_failed: dict[str, Any]
):
    page = dashboard_page(partly_server, user, one_of_three_failed["id"])
    assert 'id="job-partial"' in page and "partial: 1 failed" in page
    figures = re.findall(r'<figure class="chart-(\w+)">', page)
    assert figures == ["histogram", "failed", "histogram"]
    assert "<code>provider_failed</code> task for parameter set 0 FAILED: lost" in page


def dashboard_page(server: PartlyServer, user: User, job_id: str) -> str:
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        signed_in = browser.post("/dashboard/sign-in", data={"api_key": user.key})
        assert signed_in.status_code == 200, signed_in.text
        page = browser.get(f"/dashboard/jobs/{job_id}")
        assert page.status_code == 200, page.text
        return page.text


def test_a_failed_parameter_set_of_a_sweep_with_observables_is_null_in_place(
    partly_server: PartlyServer, user: User
):
    job = user.run(
        [RY_CX],
        fail=[2],
        parameters=[[[0.0], [math.pi / 2], [math.pi]]],
        observables=[[[["ZZ"], [1.0]], [["IZ"], [1.0]]]],
    )
    assert (job["status"], job["partial"], job["failed_executions"]) == ("Done", True, 1)
    [[zz, iz]] = job["quantum_results"]
    assert zz[2] is None and iz[2] is None and job["info"]["uncertainty"][0][0][2] is None
    assert math.isclose(zz[0], 1.0, abs_tol=1e-9) and math.isclose(iz[1], 0.0, abs_tol=1e-9)
    [[zz_errors, iz_errors]] = job["errors"]
    assert zz_errors == iz_errors == [None, None, FAILED_THIRD_SET]
    page = dashboard_page(partly_server, user, job["id"])
    assert re.findall(r"<figure class=\"chart-(\w+)\">", page) == ["sweep", "failed"]
    assert "parameter set 2 — failed" in page
    assert len(re.findall(r'<g class="point"', page)) == 4  # 2 observables x the 2 sets that ran


def test_a_job_none_of_whose_executions_ran_ends_error_with_the_first_error(user: User):
    job = user.run([BELL_QASM2, FLIP_QUBIT_0, GHZ3_QASM2], fail=[0, 1, 2])

    assert (job["status"], job["partial"], job["quantum_results"]) == ("Error", False, None)
    assert job["error"]["code"] == "provider_failed"
    assert job["error"]["message"] == (
        "all 3 executions failed; the first: task for parameter set 0 FAILED: lost"
    )

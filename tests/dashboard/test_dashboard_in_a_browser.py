"""End-to-end stories in a real headless chromium against a real `qorch serve` subprocess.

Screenshots land in tests/artifacts/dashboard/.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from qorch.bootstrap import open_application
from qorch.settings import Settings
from tests.conftest import BELL_QASM2
from tests.dashboard.browsers import launched_chromium, screenshot, sign_in
from tests.e2e.servers import Server, free_port, start_worker, stop

pytestmark = pytest.mark.slow
HOSTILE = '<script>window.__xss = 1; alert("xss")</script><img src=x onerror="window.__xss=2">'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("dashboard") / "data", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with launched_chromium() as browser:
        yield browser


def create_user(data_dir: Path, name: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "qorch", "users", "create", name, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def call(server: Server, method: str, path: str, key: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": key or server.key}
    return httpx.request(method, server.url + path, headers=headers, timeout=60, **kw)


def submit(server: Server, experiment_id: str, key: str | None = None, **body: Any) -> dict:
    answer = call(
        server,
        "POST",
        "/ai/run_circuits_on_qpu_or_simulator",
        key,
        json={"experiment_id": experiment_id, "circuits_qasm": [BELL_QASM2], **body},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["job"]


def experiment(server: Server, name: str, key: str | None = None) -> str:
    answer = call(server, "POST", "/experiments", key, json={"name": name})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def status_cell(page: Any, job_id: str) -> Any:
    return page.locator(f'tr[data-job-id="{job_id}"] td.status')


def test_a_submitted_job_goes_live_to_done_and_its_page_shows_the_results(
    server: Server, browser: Any
):
    page = sign_in(browser, server.url, server.key)
    page.evaluate("window.__loaded_once = true")  # gone if the page reloads
    page.wait_for_selector("body[data-live=connected]")
    screenshot(page, "01-jobs-empty")

    exp = experiment(server, "live")
    job = submit(server, exp, shots=2000, name="bell live")
    status_cell(page, job["id"]).wait_for()
    page.wait_for_selector(
        f'tr[data-job-id="{job["id"]}"] td.status[data-status=Done]', timeout=60_000
    )
    assert status_cell(page, job["id"]).inner_text() == "Done"
    assert page.evaluate("window.__loaded_once") is True  # no reload happened
    screenshot(page, "02-jobs-done-live")

    page.click(f'tr[data-job-id="{job["id"]}"] a.job-link')
    page.wait_for_selector("svg.histogram")
    labels = page.locator("svg.histogram g.bar text.bar-label").all_text_contents()
    assert sorted(labels) == ["00", "11"]
    assert page.locator("svg.histogram g.bar rect").count() == 2
    assert page.locator("#timeline li").count() >= 3
    screenshot(page, "03-job-histogram")

    observed = submit(server, exp, observables=[[["ZZ", "XX"], [0.5, 0.5]], [["ZI"], [1.0]]])
    page.goto(f"/dashboard/jobs/{observed['id']}")
    page.wait_for_selector("#job-status[data-status=Done]", timeout=60_000)  # live, then reload
    page.wait_for_selector("svg.expectation")
    assert page.locator("svg.expectation g.point").count() == 2
    assert page.locator("svg.expectation line.error").count() == 6
    screenshot(page, "04-job-expectation-values")

    page.click("ol.circuits a")
    page.wait_for_selector("#circuit-drawing")
    drawing = page.inner_text("#circuit-drawing")
    assert "q_0" in drawing and "┤ H ├" in drawing
    assert page.locator(f'tr[data-job-id="{job["id"]}"]').count() == 1
    screenshot(page, "05-circuit-drawing")


def test_a_second_users_browser_sees_none_of_the_first_users_objects(server: Server, browser: Any):
    exp = experiment(server, "private to local")
    job = submit(server, exp, shots=10, name="private job")
    other = sign_in(browser, server.url, create_user(server.data_dir, "eve"))
    assert other.locator("tr[data-job-id]").count() == 0
    assert "private" not in other.content()
    other.goto("/dashboard/experiments")
    assert other.locator("tr[data-experiment-id]").count() == 0
    answer = other.goto(f"/dashboard/jobs/{job['id']}")
    assert answer is not None and answer.status == 404
    screenshot(other, "06-second-user-sees-nothing")


def test_html_and_script_in_names_render_as_inert_text(server: Server, browser: Any):
    dialogs: list[str] = []
    page = sign_in(browser, server.url, server.key)

    def record(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    exp = experiment(server, HOSTILE)
    stored = call(
        server,
        "POST",
        "/ai/submit_circuit_for_analytics",
        json={"experiment_id": exp, "circuit_qasm": BELL_QASM2, "name": HOSTILE},
    ).json()
    circuit_id = stored.get("id") or stored["circuit"]["id"]
    job = submit(server, exp, name=HOSTILE, description=HOSTILE, shots=10)
    status_cell(page, job["id"]).wait_for()  # inserted live, by the script, as text
    assert page.locator(f'tr[data-job-id="{job["id"]}"] a.job-link').inner_text() == HOSTILE
    for path, selector in (
        ("/dashboard/jobs", f'tr[data-job-id="{job["id"]}"] a.job-link'),
        (f"/dashboard/jobs/{job['id']}", "#job-name"),
        (f"/dashboard/experiments/{exp}", "#experiment-name"),
        (f"/dashboard/circuits/{circuit_id}", "#circuit-name"),
    ):
        page.goto(path)
        assert page.inner_text(selector) == HOSTILE, path
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("main img").count() == 0, path
    assert dialogs == []
    screenshot(page, "07-xss-inert")


def job_events(data_dir: Path, job_id: str) -> list[str]:
    app = open_application(Settings(data_dir=data_dir))
    try:
        events = app.repository.event_store.get(UUID(job_id))
        return [type(event).__qualname__ for event in events]
    finally:
        app.close()


def test_the_live_stream_resumes_after_a_restart_with_what_happened_meanwhile(
    tmp_path: Path, browser: Any
):
    server = Server(tmp_path / "data", free_port(), "--no-worker")
    server.start()
    try:
        page = sign_in(browser, server.url, server.key)
        page.wait_for_selector("body[data-live=connected]")
        job = submit(server, experiment(server, "restart"), shots=100, name="while down")
        page.wait_for_selector(f'tr[data-job-id="{job["id"]}"] td.status[data-status=Queued]')

        server.kill()
        page.wait_for_selector("#live-status", state="visible")
        screenshot(page, "08-disconnected")
        worker = start_worker(server.data_dir)  # runs the job while no server is up
        try:
            deadline = time.monotonic() + 90
            while "Job.Executed" not in job_events(server.data_dir, job["id"]):
                assert time.monotonic() < deadline, "the worker never ran the job"
                time.sleep(0.2)
        finally:
            stop(worker)
        assert status_cell(page, job["id"]).get_attribute("data-status") == "Queued"

        server.start()
        page.wait_for_selector("#live-status", state="hidden", timeout=30_000)
        page.wait_for_selector(
            f'tr[data-job-id="{job["id"]}"] td.status[data-status=Done]', timeout=30_000
        )
        screenshot(page, "09-resumed-after-restart")
    finally:
        server.stop()

"""The Lab in a real headless chromium against a real `qorch serve` (its IonQ client talking to
the loopback fake): a person pastes a circuit, estimates, runs, reads the results, compares;
credentials typed into the Run form leave no trace; another user and another site get nothing.

Screenshots land in tests/artifacts/lab/ (1280 and 390 pixels wide).
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BELL_QASM2, RY_CX
from tests.dashboard.browsers import launched_chromium, sign_in
from tests.dashboard.test_dashboard_in_a_browser import create_user
from tests.e2e.servers import Server, free_port
from tests.fakes.ionq_api import FakeIonQ

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "lab"
IONQ_KEY = "ionq-LAB-SECRET-5d1e8c2b9a7f4e30"
NARROW = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def ionq() -> Iterator[FakeIonQ]:
    with FakeIonQ(IONQ_KEY) as fake:
        fake.report_cost(4.5)
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ionq: FakeIonQ) -> Iterator[Server]:
    env = {"QORCH_IONQ_API_URL": ionq.url, "QORCH_PROVIDER_POLL_INTERVAL": "0.1"}
    server = Server(tmp_path_factory.mktemp("lab") / "data", free_port(), env=env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with launched_chromium() as browser:
        yield browser


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def api(server: Server, path: str, **params: Any) -> Any:
    answer = server.call("GET", path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def offline(page: Any, server: Server) -> list[str]:
    """Every request the page makes elsewhere than the server is refused and listed."""
    elsewhere: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(server.url) or url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    page.context.route("**/*", guard)
    return elsewhere


WIDER = """width => document.documentElement.scrollWidth <= width ? [] :
  Array.from(document.querySelectorAll("body *"))
    .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest(".scroll, figure, pre"))
    .map(e => e.tagName + "#" + e.id + "." + e.className).slice(0, 8)"""


def wider_than(page: Any, width: int) -> list[str]:
    """What sticks out past `width` pixels (a table or chart scrolling inside itself does not)."""
    return list(page.evaluate(WIDER, width))


def run_from_lab(page: Any, device: str, **choices: Any) -> str:
    page.select_option("#device_id", device)
    for selector, value in choices.items():
        page.fill(f"#{selector}", value)
    page.click("#run")
    page.wait_for_url("**/dashboard/jobs/*")
    page.evaluate("window.__not_reloaded = true")
    return str(page.url.rsplit("/", 1)[1])


def test_a_person_pastes_a_circuit_estimates_runs_and_reads_the_results(
    server: Server, browser: Any
):
    page = sign_in(browser, server.url, server.key)
    elsewhere = offline(page, server)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"

    # A new experiment, and a circuit pasted into it: first with a mistake on line 6.
    page.click("header nav a[href='/dashboard/experiments']")
    page.click("#new-experiment-link")
    page.fill("#experiment-name-input", "lab story")
    page.click("#create-experiment")
    page.wait_for_selector("#experiment-name:text('lab story')")
    experiment_id = page.url.rsplit("/", 1)[1]
    page.click("#new-circuit")
    page.fill("#circuit-name-input", "bell")
    page.fill("#qasm", BELL_QASM2.replace("cx q[0],q[1];", "cx q[0],q[7];"))
    page.click("#store-circuit")
    page.wait_for_selector("#qasm-error")
    assert page.get_attribute("#qasm-error-lines .marked", "data-line") == "6"
    assert "q[7]" in page.inner_text("#qasm-error-lines .marked")
    shot(page, "01-qasm-error-inline")
    page.set_input_files(
        "#qasm-file",
        files=[{"name": "bell.qasm", "mimeType": "text/plain", "buffer": BELL_QASM2.encode()}],
    )
    page.wait_for_function("document.getElementById('qasm').value.includes('q[1]')")
    page.click("#store-circuit")
    page.wait_for_selector("#circuit-drawing")
    assert "┤ H ├" in page.inner_text("#circuit-drawing")
    shot(page, "02-circuit-page-with-drawing")

    # Estimate on a QPU (by keyboard): the dry run's cost.
    page.click("#run-circuit")
    page.wait_for_url("**/dashboard/lab?circuit=*")
    page.wait_for_load_state()
    page.select_option("#device_id", "ionq_aria_1")
    page.wait_for_selector("#fit-check:has-text('Fits')")
    assert page.is_visible(".credentials[data-provider=ionq]")
    assert not page.is_visible(".credentials[data-provider=braket]")
    page.focus("#estimate")
    page.keyboard.press("Enter")
    page.wait_for_selector("#estimate-usd")
    dry_id = page.url.split("job=")[1].split("#")[0]
    dry = api(server, f"/jobs/{dry_id}")
    assert dry["dry_run"] and dry["status"] == "Done"
    shown = float(page.get_attribute("#estimate-usd", "data-value") or "nan")
    assert shown == dry["estimated_qpu_cost"]["converted"]["amount"] > 0
    shot(page, "03-estimate-on-a-qpu")

    # Run on a simulator: the job page turns Done and shows its results without a reload.
    bell = run_from_lab(page, "aer_simulator", shots="2000")
    page.wait_for_selector("#job-status[data-status=Done]", timeout=60_000)
    page.wait_for_selector("#job-sections svg.histogram")
    assert page.evaluate("window.__not_reloaded") is True
    shot(page, "04-run-done-live")
    with page.expect_download() as download:
        page.click("#download-csv")
    rows = list(csv.DictReader(download.value.path().open()))
    done = api(server, f"/jobs/{bell}")
    assert {r["outcome"]: float(r["probability"]) for r in rows} == done["quantum_results"][0]
    assert {r["outcome"]: int(r["count"]) for r in rows} == done["counts"][0]
    assert {r["outcome"]: float(r["standard_error"]) for r in rows} == (
        done["info"]["uncertainty"][0]
    )

    # Run again, mitigated on a noisy device: raw and mitigated side by side.
    page.click("#run-again")
    page.wait_for_url("**/dashboard/lab?job=*")
    page.check("#use_mitigation")
    noisy = run_from_lab(page, "fake_manila", shots="4000")
    page.wait_for_selector("#job-sections svg.histogram.grouped", timeout=90_000)
    mitigated = api(server, f"/jobs/{noisy}")
    for outcome, count in mitigated["counts"][0].items():
        group = page.locator(f"svg.grouped g.bar[data-outcome='{outcome}']")
        raw = group.locator("g.value").nth(0).get_attribute("data-value")
        fixed = group.locator("g.value").nth(1).get_attribute("data-value")
        assert float(raw or "nan") == count / 4000
        assert float(fixed or "nan") == mitigated["quantum_results"][0].get(outcome, 0.0)
    shot(page, "05-raw-and-mitigated")

    # A 16-point sweep of one parameter, filled in with the table editor's sweep.
    page.goto(f"/dashboard/lab/circuits/new?experiment={experiment_id}")
    page.fill("#qasm", RY_CX)
    page.click("#store-circuit")
    page.click("#run-circuit")
    page.wait_for_url("**/dashboard/lab?circuit=*")
    page.fill("#sweep-points", "16")
    page.click("#sweep-fill")
    assert page.locator("#parameter-table tbody tr").count() == 16
    page.fill("#observables", "ZZ\n0.5*ZI + 0.5*XX")
    sweep = run_from_lab(page, "aer_simulator")
    page.wait_for_selector("#job-sections svg.xy", timeout=60_000)
    swept = api(server, f"/jobs/{sweep}", include_inputs="true")
    thetas = [values[0] for values in swept["parameters"][0]]
    assert thetas == pytest.approx([2 * math.pi * k / 15 for k in range(16)], abs=1e-12)
    chart = page.locator("svg.xy")
    left, width = (
        float(chart.get_attribute(a) or 0) for a in ("data-plot-left", "data-plot-width")
    )
    low, high = (float(chart.get_attribute(a) or 0) for a in ("data-x-low", "data-x-high"))
    for k in range(2):
        points = chart.locator("g.series").nth(k).locator("g.point")
        assert points.count() == 16
        xs = [float(x or "nan") for x in points.evaluate_all("ps => ps.map(p => p.dataset.x)")]
        ys = [float(y or "nan") for y in points.evaluate_all("ps => ps.map(p => p.dataset.y)")]
        assert xs == thetas and ys == swept["quantum_results"][0][k]
        cxs = points.locator("circle").evaluate_all("cs => cs.map(c => c.cx.baseVal.value)")
        assert cxs == pytest.approx([left + (x - low) / (high - low) * width for x in xs], abs=0.01)
    assert page.locator("#job-parameters-0 tbody tr").count() == 16
    shot(page, "06-sweep-against-theta")

    # The experiment at a glance, and the two Bell runs compared.
    page.goto(f"/dashboard/experiments/{experiment_id}")
    listed = api(server, "/jobs", experiment_id=experiment_id)["jobs"]
    assert page.get_attribute("#overview-jobs .big", "data-value") == str(len(listed))
    assert page.get_attribute("#overview-devices li[data-device=fake_manila]", "data-value") == "1"
    shot(page, "07-experiment-overview")
    page.select_option("#compare-a", bell)
    page.select_option("#compare-b", noisy)
    page.click("#compare-jobs")
    page.wait_for_selector("svg.grouped")
    assert page.locator("svg.grouped g.bar").first.locator("g.value").count() == 2
    shot(page, "08-compare-two-jobs")

    # Readable at 390 pixels: nothing wider than the screen but what scrolls inside itself.
    page.set_viewport_size(NARROW)
    for path, name in (
        (f"/dashboard/experiments/{experiment_id}", "09-narrow-experiment"),
        (f"/dashboard/lab?job={sweep}", "10-narrow-lab"),
        (f"/dashboard/jobs/{sweep}", "11-narrow-sweep"),
        (f"/dashboard/jobs/{noisy}", "12-narrow-mitigated"),
    ):
        page.goto(path)
        assert wider_than(page, NARROW["width"]) == [], path
        shot(page, name)
    assert elsewhere == []  # no request left the machine: every asset ships with qorch


def every_file_holds(data_dir: Path, secret: bytes) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file() and secret in p.read_bytes()]


class Attacker:
    """Another site (`localhost` is not the same site as `127.0.0.1`) whose page posts the Run
    form to qorch as soon as it loads."""

    def __init__(self, target: str, fields: dict[str, str]) -> None:
        inputs = "".join(f'<input name="{k}" value="{v}">' for k, v in fields.items())
        page = (
            f'<form id="f" method="post" action="{target}">{inputs}</form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.http.server_address[1]}/"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


def test_credentials_typed_in_the_run_form_leave_no_trace_and_others_get_nothing(
    server: Server, browser: Any, ionq: FakeIonQ
):
    experiment_id = server.call("POST", "/experiments", json={"name": "paid"}).json()["id"]
    circuit = server.call(
        "POST",
        "/ai/submit_circuit_for_analytics",
        json={"experiment_id": experiment_id, "circuit_qasm": BELL_QASM2, "name": "bell"},
    ).json()["circuit"]["id"]
    page = sign_in(browser, server.url, server.key)

    # On IonQ's simulator, held at the provider: Running, then Done live.
    ionq.hold_jobs()
    page.goto(f"/dashboard/lab?circuit={circuit}")
    page.select_option("#device_id", "ionq_simulator")
    page.fill("#credential_ionq_api_key", IONQ_KEY)
    assert page.get_attribute("#credential_ionq_api_key", "type") == "password"
    assert page.is_disabled("#credential_aws_access_key_id")  # never sent to this provider
    simulated = run_from_lab(page, "ionq_simulator", shots="500")
    page.wait_for_selector("#job-status[data-status=Running]", timeout=30_000)
    shot(page, "13-running-at-the-provider")
    ionq.release_jobs()
    page.wait_for_selector("#job-status[data-status=Done]", timeout=60_000)
    page.wait_for_selector("#job-sections svg.histogram")
    assert page.evaluate("window.__not_reloaded") is True
    assert page.evaluate("document.body.dataset.refreshed") == "1"  # swapped in, not reloaded

    # On a QPU under a budget: its estimate reserved, its actual cost in the overview.
    budget = ["budget", "set", "local", "--usd", "100", "--provider", "ionq"]
    subprocess.run(
        [sys.executable, "-m", "qorch", *budget, "--data-dir", str(server.data_dir)], check=True
    )
    page.goto(f"/dashboard/lab?circuit={circuit}")
    page.select_option("#device_id", "ionq_aria_1")
    page.fill("#credential_ionq_api_key", IONQ_KEY)
    paid = run_from_lab(page, "ionq_aria_1", shots="100")
    page.wait_for_selector("#job-status[data-status=Done]", timeout=60_000)
    cost = api(server, f"/jobs/{paid}")
    assert cost["actual_cost"]["usd"] == 4.5 and cost["estimated_usd"] > 0
    page.goto(f"/dashboard/experiments/{experiment_id}")
    actual = page.get_attribute("#overview-spend [data-field=actual_usd]", "data-value")
    assert float(actual or "nan") == 4.5
    assert (
        float(page.get_attribute("#overview-spend [data-field=estimated_usd]", "data-value") or 0)
        > 0
    )
    shot(page, "14-overview-with-spend")
    seen = [page.content()]
    for path in (
        "/dashboard/jobs",
        f"/dashboard/jobs/{simulated}",
        f"/dashboard/jobs/{paid}",
        f"/dashboard/lab?job={paid}",
        f"/dashboard/compare?a={simulated}&b={paid}",
        "/dashboard/usage",
    ):
        page.goto(path)
        seen.append(page.content())
    for path in (f"/dashboard/jobs/{paid}/results.json", f"/dashboard/jobs/{paid}/results.csv"):
        seen.append(page.request.get(path).text())
    assert len(seen) >= 8 and not [text for text in seen if IONQ_KEY in text]
    assert every_file_holds(server.data_dir, IONQ_KEY.encode()) == []
    assert IONQ_KEY not in "".join(server.output)

    # Another user's browser: nothing of it.
    eve = sign_in(browser, server.url, create_user(server.data_dir, "eve-lab"))
    assert eve.locator("tr[data-job-id]").count() == 0
    for path in (
        f"/dashboard/lab?job={paid}",
        f"/dashboard/lab?experiment={experiment_id}",
        f"/dashboard/experiments/{experiment_id}",
        f"/dashboard/compare?a={simulated}&b={paid}",
    ):
        answer = eve.goto(path)
        assert answer is not None and answer.status == 404, path
    assert eve.request.get(f"/dashboard/jobs/{paid}/results.csv").status == 404

    # Another site posting the Run form in the signed-in user's browser: refused, nothing run.
    before = len(api(server, "/jobs")["jobs"])
    fields = {"experiment_id": experiment_id, "circuit_ids": circuit, "action": "run"}
    attacker = Attacker(server.url + "/dashboard/lab/run", {**fields, "csrf_token": "guess"})
    try:
        page.goto(attacker.url)
        page.wait_for_url(server.url + "/dashboard/lab/run")
        assert "CSRF check failed" in page.content()
    finally:
        attacker.http.shutdown()
    assert len(api(server, "/jobs")["jobs"]) == before
    assert httpx.get(server.url + "/dashboard/lab", follow_redirects=False).status_code == 303

"""Stories of the Lab served in-process: forms that submit through the same commands as REST,
results for people (sweeps against the parameter's value, heatmaps, raw beside mitigated),
downloads with the API's numbers, an experiment at a glance, two jobs compared."""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

from starlette.testclient import TestClient

from tests.conftest import BELL_QASM2, RY_CX, Account
from tests.dashboard.test_dashboard_pages import HOSTILE
from tests.dashboard.test_dashboard_pages import browser as signed_in

TWO_ANGLES = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] a;
input float[64] b;
qubit[2] q;
ry(a) q[0];
ry(b) q[1];
"""
WIDE = BELL_QASM2.replace("qreg q[2];", "qreg q[6];").replace("creg c[2];", "creg c[6];")
SECRET = "ionq-typed-in-the-form-7f3e9a"


def browser(account: Account) -> TestClient:
    """A separate cookie jar, signed in, on the running app's own event loop (its forms wait
    for the read models, whose events belong to that loop)."""
    client = signed_in(account)
    client.portal = account.client.portal
    return client


def csrf(client: TestClient, path: str = "/dashboard/lab") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found[1]


def store(account: Account, qasm: str, name: str = "") -> str:
    answer = account.post(
        "/ai/submit_circuit_for_analytics",
        {"experiment_id": account.experiment_id, "circuit_qasm": qasm, "name": name},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["circuit"]["id"])


def lab_post(client: TestClient, account: Account, circuits: list[str], **fields: Any) -> Any:
    form: dict[str, Any] = {
        "csrf_token": csrf(client),
        "experiment_id": account.experiment_id,
        "circuit_ids": circuits,
        "device_id": "aer_simulator",
        "shots": "1000",
        "run_type": "Run",
        "action": "run",
        **fields,
    }
    return client.post("/dashboard/lab/run", data=form, follow_redirects=False)


def job_id_of(answer: Any) -> str:
    assert answer.status_code == 303, answer.text[-2000:]
    return str(answer.headers["location"].split("/")[-1])


def numbers(svg_text: str, attribute: str) -> list[float]:
    return [float(v) for v in re.findall(rf'{attribute}="([^"]+)"', svg_text)]


def test_a_sweep_run_from_the_lab_is_the_job_rest_records_and_draws_against_theta(alice: Account):
    circuit = store(alice, RY_CX, "ry-cx")
    client = browser(alice)
    page = client.get(f"/dashboard/lab?circuit={circuit}").text
    assert f'value="{circuit}" id="circuit-{circuit}"' in page and "checked" in page
    thetas = [2 * math.pi * k / 15 for k in range(16)]
    answer = lab_post(
        client,
        alice,
        [circuit],
        parameters="theta\n" + "\n".join(repr(t) for t in thetas),
        observables="ZZ\n0.5*ZI + 0.5*IX",
        options='{"seed_simulator": 11}',
        name="theta sweep",
    )
    job_id = job_id_of(answer)
    job = alice.wait_for(job_id)
    recorded = alice.get(f"/jobs/{job_id}", include_inputs="true").json()
    assert recorded["parameters"] == [[[t] for t in thetas]]
    assert recorded["observables"][0][1] == [["ZI", "IX"], [0.5, 0.5]]
    assert recorded["options"] == {"seed_simulator": 11} and job["name"] == "theta sweep"

    page = client.get(f"/dashboard/jobs/{job_id}").text
    chart = page.split('class="chart xy"')[1].split("</svg>")[0]
    zz = chart.split('data-series="O0: ZZ"')[1].split("</g></g>")[0]
    assert numbers(zz, "data-x") == thetas  # 16 points at the parameter's values
    assert numbers(zz, "data-y") == job["quantum_results"][0][0]
    assert "sweep over theta" in page and 'id="job-parameters-0"' in page
    table = page.split('id="job-parameters-0"')[1].split("</table>")[0]
    assert numbers(table, "data-value") == thetas

    rows = list(csv.DictReader(io.StringIO(client.get(f"{page_path(job_id)}.csv").text)))
    assert len(rows) == 32
    for row in rows:
        k, j = int(row["observable"]), int(row["parameter_set"])
        assert float(row["value"]) == job["quantum_results"][0][k][j]
        assert float(row["standard_error"]) == job["info"]["uncertainty"][0][k][j]
        assert float(row["theta"]) == thetas[j]
    assert client.get(f"{page_path(job_id)}.json").json() == alice.get(f"/jobs/{job_id}").json()

    again = client.get(f"/dashboard/lab?job={job_id}").text
    assert "theta\n0.0\n" in again and "0.5*ZI + 0.5*IX" in again  # run again: filled in


def page_path(job_id: str) -> str:
    return f"/dashboard/jobs/{job_id}/results"


def test_two_swept_parameters_draw_a_heatmap_per_observable(alice: Account):
    circuit = store(alice, TWO_ANGLES)
    grid = [(a, b) for a in (0.0, math.pi / 2, math.pi) for b in (0.0, math.pi)]
    client = browser(alice)
    answer = lab_post(
        client,
        alice,
        [circuit],
        parameters="a,b\n" + "\n".join(f"{a!r},{b!r}" for a, b in grid),
        observables="ZI\nIZ",
        run_type="StatevectorRun",
    )
    job = alice.wait_for(job_id_of(answer))
    page = client.get(f"/dashboard/jobs/{job['id']}").text
    assert page.count('class="chart heatmap"') == 2
    first = page.split('class="chart heatmap"')[1].split("</svg>")[0]
    cells = re.findall(r'data-x="([^"]+)" data-y="([^"]+)" data-value="([^"]+)"', first)
    assert {(float(x), float(y)): float(v) for x, y, v in cells} == {
        pair: job["quantum_results"][0][0][j] for j, pair in enumerate(grid)
    }


def test_a_readout_mitigated_job_shows_raw_beside_mitigated(alice: Account):
    client = browser(alice)
    circuit = store(alice, BELL_QASM2)
    answer = lab_post(
        client, alice, [circuit], device_id="fake_manila", use_mitigation="on", shots="2000"
    )
    job = alice.wait_for(job_id_of(answer))
    assert job["info"]["metadata"]["mitigation"]["readout"]["circuits"] == [0]
    page = client.get(f"/dashboard/jobs/{job['id']}").text
    chart = page.split('class="chart histogram grouped"')[1].split("</svg>")[0]
    raw = dict(
        re.findall(
            r'data-outcome="(\d+)"><g class="value" data-series="raw[^"]*" data-value="([^"]+)"',
            chart,
        )
    )
    mitigated = dict(
        re.findall(r'data-outcome="(\d+)">.*?data-series="mitigated" data-value="([^"]+)"', chart)
    )
    counts = job["counts"][0]
    assert {o: float(p) for o, p in raw.items()} == {o: n / 2000 for o, n in counts.items()}
    assert {o: float(p) for o, p in mitigated.items()} == {
        o: job["quantum_results"][0].get(o, 0.0) for o in mitigated
    }


def test_zero_noise_extrapolation_shows_the_unmitigated_values_beside(alice: Account):
    client = browser(alice)
    circuit = store(alice, BELL_QASM2.replace("measure q -> c;\n", ""))
    answer = lab_post(
        client,
        alice,
        [circuit],
        device_id="fake_manila",
        use_mitigation="on",
        observables="ZZ",
        options='{"seed_simulator": 3}',
        shots="100000",
    )
    job = alice.wait_for(job_id_of(answer))
    zne = job["info"]["metadata"]["mitigation"]["zne"]
    [[raw]] = zne["unmitigated"]["0"]
    assert zne["unmitigated_standard_error"] == 1 / math.sqrt(100_000)
    mitigated = job["quantum_results"][0][0]
    assert raw < 0.999 and raw != mitigated  # the device's gate noise pulls ZZ below 1
    page = client.get(f"/dashboard/jobs/{job['id']}").text
    points = re.findall(r'class="point series-(\d)" data-label="O0" data-value="([^"]+)"', page)
    assert [(s, float(v)) for s, v in points] == [
        ("0", job["quantum_results"][0][0]),
        ("1", raw),
    ]


def test_lab_forms_refuse_forgeries_and_name_the_field_without_echoing_credentials(
    alice: Account, bob: Account
):
    circuit = store(alice, BELL_QASM2)
    client = browser(alice)
    before = len(alice.get("/jobs").json()["jobs"])
    form = {"experiment_id": alice.experiment_id, "circuit_ids": circuit, "action": "run"}
    assert client.post("/dashboard/lab/run", data=form).status_code == 403  # no token
    forged = {**form, "csrf_token": csrf(client)}
    cross = client.post("/dashboard/lab/run", data=forged, headers={"Origin": "http://evil.test"})
    assert cross.status_code == 403
    assert client.post("/dashboard/lab/circuits", data={"qasm": BELL_QASM2}).status_code == 403

    wrong = lab_post(
        client,
        alice,
        [circuit],
        device_id="ionq_simulator",
        observables="ZZ + XQ",
        credential_ionq_api_key=SECRET,
    )
    assert wrong.status_code == 422
    assert 'id="error-observables"' in wrong.text and "line 1" in wrong.text
    assert SECRET not in wrong.text
    in_options = lab_post(client, alice, [circuit], options=f'{{"ionq_api_key": "{SECRET}"}}')
    assert in_options.status_code == 422 and 'id="error-options"' in in_options.text
    assert SECRET not in in_options.text
    unbound = lab_post(client, alice, [store(alice, TWO_ANGLES)])
    assert unbound.status_code == 422 and 'id="error-parameters"' in unbound.text
    too_big = lab_post(client, alice, [store(alice, WIDE)], device_id="fake_manila")
    assert too_big.status_code == 422 and 'id="error-circuits"' in too_big.text
    assert "6 qubits" in too_big.text
    assert len(alice.get("/jobs").json()["jobs"]) == before  # nothing was recorded

    theirs = browser(bob)
    mine = lab_post(theirs, bob, [circuit], experiment_id=alice.experiment_id)
    assert mine.status_code == 404  # alice's experiment is not bob's to run in
    stolen = lab_post(theirs, bob, [circuit])
    assert stolen.status_code == 422 and "unknown circuit" in stolen.text
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10)
    for path in (
        f"/dashboard/lab?job={job['id']}",
        f"/dashboard/lab?circuit={circuit}",
        f"/dashboard/lab?experiment={alice.experiment_id}",
        f"/dashboard/lab/circuits/new?experiment={alice.experiment_id}",
        f"/dashboard/jobs/{job['id']}/results.csv",
        f"/dashboard/jobs/{job['id']}/results.json",
        f"/dashboard/jobs/{job['id']}/sections",
        f"/dashboard/compare?a={job['id']}&b={job['id']}",
    ):
        assert theirs.get(path).status_code == 404, path


def test_estimate_is_a_dry_run_without_credentials_and_shows_its_cost(alice: Account):
    circuit = store(alice, BELL_QASM2)
    client = browser(alice)
    answer = lab_post(
        client,
        alice,
        [circuit],
        device_id="ionq_aria_1",
        action="estimate",
        credential_ionq_api_key=SECRET,
    )
    assert answer.status_code == 303
    dry_id = answer.headers["location"].split("job=")[1].split("#")[0]
    dry = alice.wait_for(dry_id)
    assert dry["dry_run"] is True and dry["credentials_supplied"] == []
    page = client.get(answer.headers["location"]).text
    usd = re.search(r'id="estimate-usd" data-value="([^"]+)"', page)
    assert usd is not None
    assert float(usd[1]) == dry["estimated_qpu_cost"]["converted"]["amount"] > 0
    assert 'value="ionq_aria_1" data-qubits' in page and SECRET not in page


def test_pasted_qasm_becomes_a_circuit_and_a_parse_error_names_its_line(alice: Account):
    client = browser(alice)
    token = csrf(client, f"/dashboard/lab/circuits/new?experiment={alice.experiment_id}")
    bad = BELL_QASM2.replace("cx q[0],q[1];", "cx q[0],q[9];")
    form = {"csrf_token": token, "experiment_id": alice.experiment_id, "name": "pasted"}
    refused = client.post("/dashboard/lab/circuits", data={**form, "qasm": bad})
    assert refused.status_code == 422
    marked = re.search(r'<span class="marked" data-line="(\d+)">([^<]*)</span>', refused.text)
    assert marked is not None and marked[1] == "6" and "cx q[0],q[9];" in marked[2]
    stored = client.post(
        "/dashboard/lab/circuits", data={**form, "qasm": BELL_QASM2}, follow_redirects=False
    )
    assert stored.status_code == 303
    page = client.get(stored.headers["location"]).text
    assert "┤ H ├" in page and 'id="run-circuit"' in page


def test_an_experiment_shows_its_jobs_at_a_glance_and_compares_two(alice: Account):
    client = browser(alice)
    circuit = store(alice, BELL_QASM2, name=HOSTILE)
    first = alice.wait_for(job_id_of(lab_post(client, alice, [circuit], shots="500", name=HOSTILE)))
    second = alice.wait_for(job_id_of(lab_post(client, alice, [circuit], device_id="fake_manila")))
    dry = alice.wait_for(
        alice.run(circuit_ids=[circuit], device_id="ionq_aria_1", dry_run=True)["id"]
    )
    page = client.get(f"/dashboard/experiments/{alice.experiment_id}").text
    listed = alice.get("/jobs", experiment_id=alice.experiment_id).json()["jobs"]
    jobs_total = re.search(r'<span class="big" data-value="(\d+)"', page)
    assert jobs_total is not None and int(jobs_total[1]) == len(listed)
    done = sum(1 for job in listed if job["status"] == "Done")
    assert f'data-status="Done" data-value="{done}"' in page
    assert 'data-device="fake_manila" data-value="1"' in page
    assert 'data-field="dry_runs" data-value="1"' in page
    dry_usd = re.search(r'data-field="dry_run_usd" data-value="([^"]+)"', page)
    assert dry_usd is not None and float(dry_usd[1]) == dry["estimated_usd"] > 0
    estimated = sum(job.get("estimated_usd") or 0 for job in listed if not job["dry_run"])
    assert float(re.findall(r'data-field="estimated_usd" data-value="([^"]+)"', page)[0]) == (
        estimated
    )

    compared = client.get(f"/dashboard/compare?a={first['id']}&b={second['id']}").text
    chart = compared.split('class="chart histogram grouped"')[1].split("</svg>")[0]
    for name, job in (("A", first), ("B", second)):
        values = re.findall(
            rf'data-outcome="(\d+)">.*?data-series="{name}: [^"]*" data-value="([^"]+)"', chart
        )
        assert {o: float(v) for o, v in values} == {
            o: job["quantum_results"][0].get(o, 0.0) for o, _ in values
        }
    for path in (
        f"/dashboard/lab?experiment={alice.experiment_id}",
        f"/dashboard/lab?job={first['id']}",
        f"/dashboard/experiments/{alice.experiment_id}",
        f"/dashboard/compare?a={first['id']}&b={second['id']}",
        f"/dashboard/jobs/{first['id']}",
    ):
        text = client.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;alert" in text, path

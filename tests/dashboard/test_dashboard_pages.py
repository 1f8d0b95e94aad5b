"""Stories of the dashboard's pages, served in-process from the read models."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from qorch.projections import dashboard
from tests.conftest import BELL_QASM2, Account

HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def browser(account: Account) -> TestClient:
    """A separate cookie jar on the shared app, signed in as the account's user."""
    client = TestClient(account.client.app)
    answer = client.post("/dashboard/sign-in", data={"api_key": account.key})
    assert answer.status_code == 200 and answer.url.path == "/dashboard/jobs", answer.text
    return client


def test_sign_in_sets_a_signed_httponly_strict_cookie_that_never_holds_the_key(alice: Account):
    client = TestClient(alice.client.app)
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard/sign-in"
    answer = client.post("/dashboard/sign-in", data={"api_key": alice.key}, follow_redirects=False)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert alice.key not in cookie and alice.key[3:20] not in cookie
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard/jobs"


def test_a_wrong_key_or_a_forged_cookie_gets_no_page(alice: Account):
    client = TestClient(alice.client.app)
    assert client.post("/dashboard/sign-in", data={"api_key": "qk_nope"}).status_code == 401
    client.cookies.set("qorch_session", "eyJ1IjoiYSJ9.forged")
    answer = client.get("/dashboard/jobs", follow_redirects=False)
    assert answer.headers["location"] == "/dashboard/sign-in"
    assert client.get("/dashboard/events").status_code == 401


def test_a_done_job_page_shows_what_ran_its_timeline_and_a_histogram(alice: Account):
    job = alice.run(
        circuits_qasm=[BELL_QASM2],
        shots=500,
        options={"seed_simulator": 7, "ibm_quantum_token": "secret-token-123"},
    )
    alice.wait_for(job["id"])
    page = browser(alice).get(f"/dashboard/jobs/{job['id']}").text
    assert sorted(re.findall(r'data-outcome="(\w+)"', page)) == ["00", "11"]
    assert 'id="job-device">aer_simulator<' in page and 'id="job-shots">500<' in page
    assert [e for e in ("Submitted", "Claimed", "Executed") if f'data-event="{e}"' in page]
    assert "secret-token-123" not in page
    assert "seed_simulator" in page


def test_observables_get_expectation_values_with_error_bars(alice: Account):
    job = alice.run(
        circuits_qasm=[BELL_QASM2],
        observables=[[["ZZ"], [1.0]], [["XX", "ZI"], [0.5, 0.5]]],
        parameters=None,
    )
    alice.wait_for(job["id"])
    page = browser(alice).get(f"/dashboard/jobs/{job['id']}").text
    assert 'class="chart expectation"' in page
    assert re.findall(r'data-label="(O\d)"', page) == ["O0", "O1"]
    assert 'id="job-observables"' in page


def test_a_statevector_run_shows_its_probabilities(alice: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], run_type="StatevectorRun")
    alice.wait_for(job["id"])
    page = browser(alice).get(f"/dashboard/jobs/{job['id']}").text
    assert 'class="chart-probabilities"' in page
    assert sorted(re.findall(r'data-outcome="(\w+)"', page)) == ["00", "11"]


def test_a_dry_run_shows_its_estimate(alice: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], dry_run=True, device_id="fake_manila")
    alice.wait_for(job["id"])
    page = browser(alice).get(f"/dashboard/jobs/{job['id']}").text
    assert 'id="estimate"' in page and "USD" in page


def test_a_circuit_page_shows_qasm_metrics_drawing_and_its_jobs(alice: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10)
    page = browser(alice).get(f"/dashboard/circuits/{job['circuit_ids'][0]}").text
    drawing = page.split('id="circuit-drawing">')[1].split("</pre>")[0]
    assert "q_0" in drawing and "H" in drawing
    assert "measure q -&gt; c;" in page
    assert 'id="circuit-metrics"' in page
    assert f'data-job-id="{job["id"]}"' in page


def test_a_second_user_sees_none_of_the_first_users_objects(alice: Account, bob: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10)
    as_bob = browser(bob)
    for path in ("/dashboard/jobs", "/dashboard/experiments"):
        page = as_bob.get(path).text
        assert job["id"] not in page and alice.experiment_id not in page
    for path in (
        f"/dashboard/jobs/{job['id']}",
        f"/dashboard/circuits/{job['circuit_ids'][0]}",
        f"/dashboard/experiments/{alice.experiment_id}",
    ):
        assert as_bob.get(path).status_code == 404
    db = alice.client.app.state.service.views.connection()  # type: ignore[attr-defined]
    assert all(j["id"] != job["id"] for _, j in dashboard.changed_jobs(db, bob.user_id, 0))


def test_user_text_renders_inert_everywhere(alice: Account):
    experiment = alice.post(
        "/experiments", {"name": HOSTILE, "description": HOSTILE, "tags": [HOSTILE]}
    ).json()
    circuit = alice.post(
        "/ai/submit_circuit_for_analytics",
        {"experiment_id": experiment["id"], "circuit_qasm": BELL_QASM2, "name": HOSTILE},
    ).json()
    circuit_id = circuit.get("circuit_id") or circuit.get("id") or circuit["circuit"]["id"]
    job = alice.run(circuits_qasm=[BELL_QASM2], name=HOSTILE, description=HOSTILE, shots=5)
    client = browser(alice)
    for path in (
        "/dashboard/jobs",
        "/dashboard/experiments",
        f"/dashboard/experiments/{experiment['id']}",
        f"/dashboard/circuits/{circuit_id}",
        f"/dashboard/jobs/{job['id']}",
    ):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert" in page, path
        assert "script-src 'self'" in client.get(path).headers["content-security-policy"]


def test_state_changing_forms_need_the_csrf_token(alice: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10, dry_run=True)
    client = browser(alice)
    assert client.post("/dashboard/sign-out", data={}).status_code == 403
    assert client.post(f"/dashboard/jobs/{job['id']}/cancel", data={}).status_code == 403
    forged = {"csrf_token": "x"}
    assert client.post("/dashboard/sign-out", data=forged).status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/jobs").text)
    assert token is not None
    cross_site = client.post(
        "/dashboard/sign-out",
        data={"csrf_token": token[1]},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    out = client.post("/dashboard/sign-out", data={"csrf_token": token[1]})
    assert out.url.path == "/dashboard/sign-in"
    assert client.get("/dashboard/jobs", follow_redirects=False).status_code == 303


def test_lists_filter_and_paginate(alice: Account):
    for i in range(3):
        alice.run(circuits_qasm=[BELL_QASM2], shots=5, dry_run=True, name=f"filtered-{i}")
    client = browser(alice)
    page = client.get("/dashboard/jobs", params={"device": "nowhere"}).text
    assert "filtered-0" not in page and "No jobs match" in page
    page = client.get("/dashboard/jobs", params={"experiment": alice.experiment_id}).text
    assert all(f"filtered-{i}" in page for i in range(3))
    assert "/dashboard/jobs?page=2" not in page  # fewer than a page
    assert client.get("/dashboard/jobs", params={"page": "2"}).status_code == 200


@pytest.mark.parametrize("after", [None, "0"])
def test_the_live_stream_sends_changes_after_the_last_event_id(alice: Account, after: str | None):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=5)
    alice.wait_for(job["id"])
    db = alice.client.app.state.service.views.connection()  # type: ignore[attr-defined]
    changes = dashboard.changed_jobs(db, alice.user_id, int(after or 0))
    position, latest = changes[-1]
    assert latest["id"] == job["id"] and latest["status"] == "Done"
    assert dashboard.changed_jobs(db, alice.user_id, position) == []
    client = browser(alice)
    headers = {"Last-Event-ID": str(position - 1)}
    with client.stream("GET", "/dashboard/events", headers=headers) as stream:
        lines = []
        for line in stream.iter_lines():
            lines.append(line)
            if line.startswith("data:"):
                break
    assert f"id: {position}" in lines and "event: job" in lines
    assert job["id"] in lines[-1] and '"status": "Done"' in lines[-1]

"""Property: arbitrary JSON — type-tag shapes (`{"_type_": ..., "_data_": ...}`) included — sent to
every route that records never answers 5xx, and a server started again on the same data answers
every route of every user (finding 1: one request used to poison the log for everyone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from qorch.http.app import create_app
from tests.conftest import BELL_QASM2, Account, new_account, settings_for
from tests.sdk.test_sdk_wire import PROGRAM, SDK, bell_qpy, upload_bell

EXAMPLES_PER_ROUTE = 30
BELL_QPY = bell_qpy()
TYPE_NAMES = ["nope", "uuid_hex", "datetime_iso", "decimal_str", "tuple_as_list", "", "_data_"]
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
type_tags = st.fixed_dictionaries(
    {"_type_": st.sampled_from(TYPE_NAMES) | st.text(max_size=6), "_data_": leaves}
)
json_values = st.recursive(
    leaves | type_tags,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["_type_", "_data_"]), children, max_size=4
        )
        | st.tuples(st.sampled_from(TYPE_NAMES), children).map(
            lambda t: {"_type_": t[0], "_data_": t[1]}
        )
    ),
    max_leaves=10,
)


def recording_requests(account: Account, circuit_id: str, job_id: str) -> dict[str, Any]:
    """Each route that records: a valid body as the base, and the fields a user controls."""
    experiment = account.experiment_id
    run = {"experiment_id": experiment, "circuits_qasm": [BELL_QASM2], "dry_run": True}
    return {
        "POST /experiments": ({"name": "n", "description": "", "tags": []}, {}),
        "POST /experiments sdk": ({"name": "n", "tags": "a,b"}, SDK),
        "POST /experiments/init": ({"name": "n"}, SDK),
        f"PUT /experiments/{experiment}": ({"name": "n", "description": "d"}, SDK),
        "POST /ai/run_circuits_on_qpu_or_simulator": (run, {}),
        "POST /ai/submit_circuit_for_analytics": (
            {"experiment_id": experiment, "circuit_qasm": BELL_QASM2, "name": "c"},
            {},
        ),
        "POST /flow": (
            {
                "experiment_id": experiment,
                "program": PROGRAM,
                "circuit_ids": [circuit_id],
                "shots": 10,
                "dry_run": True,
            },
            SDK,
        ),
        "POST /run": (
            {
                "experiment_id": experiment,
                "circuit_ids": [circuit_id],
                "shots": 10,
                "dry_run": True,
            },
            SDK,
        ),
        "POST /circuits": (
            {"experiment_id": experiment, "qpy_dump": BELL_QPY, "hash": "h", "name": "c"},
            SDK,
        ),
        f"POST /jobs/{job_id}/restart": ({"options": {}}, SDK),
        f"POST /jobs/{job_id}/cancel": ({}, {}),
    }


def mutate(base: dict[str, Any], field: str, value: Any, nested: bool) -> Any:
    """The base body with one field replaced (or, nested, a value inside it) by `value`."""
    body = dict(base)
    current = body.get(field)
    if nested and isinstance(current, dict):
        body[field] = {**current, "extra": value}
    elif nested and isinstance(current, list) and current:
        body[field] = [*current[:-1], value]
    else:
        body[field] = value
    return body


def test_arbitrary_json_never_poisons_the_log(tmp_path: Path):
    settings_ = settings_for(tmp_path)
    with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
        alice, bob = new_account(client), new_account(client)
        circuit_id = upload_bell(alice)
        job_id = alice.run(circuits_qasm=[BELL_QASM2], dry_run=True)["id"]
        alice.wait_for(job_id)
        routes = recording_requests(alice, circuit_id, job_id)
        accepted = {
            route: fuzz_route(client, {**alice.headers, **headers}, route, base)
            for route, (base, headers) in routes.items()
        }
        # Arbitrary JSON reached the store through every route that records free-form or
        # string values (else this property would hold vacuously).
        for route in ("POST /experiments sdk", "POST /flow", "POST /run", "POST /circuits"):
            assert accepted[route] > 0, accepted
        positions = client.app.state.service.app.recorder.max_notification_id()  # type: ignore[attr-defined]
    # Started again on the same data: the whole log is read back, every route of every user
    # answers, and no event had to be set aside.
    with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["log_position"] >= positions, health
        for account in (alice, bob):
            account.client = client
            every_route_answers(account)


def fuzz_route(client: TestClient, headers: dict[str, str], route: str, base: dict) -> int:
    """Fuzzes one route; answers how many examples it accepted (and so recorded)."""
    method, path = route.split()[:2]
    fields = sorted({*base, "name", "description", "options", "program", "tags"})

    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        field=st.sampled_from(fields), value=json_values, nested=st.booleans(), whole=st.booleans()
    )
    def check(field: str, value: Any, nested: bool, whole: bool) -> None:
        body = value if whole and not nested else mutate(base, field, value, nested)
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code < 500, (route, body, answer.text[:300])
        accepted.append(answer.status_code < 300)

    accepted: list[bool] = []
    check()
    return sum(accepted)


def every_route_answers(account: Account) -> None:
    experiments = account.get("/experiments")
    assert experiments.status_code == 200, experiments.text
    jobs = account.get("/jobs", limit=500)
    assert jobs.status_code == 200, jobs.text
    for experiment in experiments.json()["experiments"]:
        for path in (
            f"/experiments/{experiment['id']}",
            f"/experiments/{experiment['id']}/circuits",
        ):
            assert account.get(path).status_code == 200, path
        sdk = account.client.get(
            f"/experiments/{experiment['id']}", headers={**account.headers, **SDK}
        )
        assert sdk.status_code == 200, sdk.text
    for job in jobs.json()["jobs"]:
        for path in (f"/jobs/{job['id']}", f"/jobs/{job['id']}/events"):
            answer = account.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
        sdk = account.client.get(f"/jobs/{job['id']}", headers={**account.headers, **SDK})
        assert sdk.status_code == 200, sdk.text
    assert account.get("/devices").status_code == 200

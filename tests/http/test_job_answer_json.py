"""A job's answer encoded straight from its recorded results: the bulky values (a sweep's
distributions) are copied as recorded instead of parsed and encoded again, and the answer is the
same JSON document, byte for byte, as encoding the presented job. Any results text not laid out
as the domain records results is parsed as before."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pydantic_core import from_json, to_json

from qorch.domain.errors import NotFound
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
from qorch.domain.results import nest_results
from qorch.http import queries
from qorch.http.presenters import job_json, present_job, split_results
from qorch.http.schemas import JobQuery
from tests.conftest import RY_CX, Account

MEASURED_RY_CX = RY_CX + "bit[2] c;\nc = measure q;\n"

DOC = {"id": "j1", "status": "Done", "name": "sweep", "events": [{"type": "Submitted"}]}


def sweep(sets: int, *, failed: int | None = None) -> CircuitOutcome:
    counts = [{"00": 3 + s, "01": 1, "11": 6} for s in range(sets)]
    return CircuitOutcome(
        distributions=[{k: v / sum(c.values()) for k, v in c.items()} for c in counts],
        counts=counts,
        errors=None
        if failed is None
        else [
            {"code": "provider_failed", "message": "lost"} if s == failed else None
            for s in range(sets)
        ],
        transpiled={"qubits": 2, "depth": 3},
    )


OUTCOMES = {
    "distributions of a sweep": (ExecutionOutcome([sweep(3)], {"shots": 10}), True, False),
    "one distribution per circuit": (ExecutionOutcome([sweep(1), sweep(1)]), False, False),
    "a partial sweep": (ExecutionOutcome([sweep(3, failed=1)]), True, False),
    "expectation values": (
        ExecutionOutcome(
            [CircuitOutcome(expectation_values=[[0.5, -0.25]], standard_errors=[[0.1, 1e-5]])]
        ),
        True,
        True,
    ),
    "statevectors": (
        ExecutionOutcome(
            [
                CircuitOutcome(
                    statevectors=[([0.5**0.5, 0.0], [0.0, -(0.5**0.5)])],
                    probabilities=[{"0": 0.5, "1": 0.5}],
                )
            ],
            {"metadata": {"counts": [1], "errors": None}},  # names of fields, nested
        ),
        False,
        False,
    ),
}


@pytest.mark.parametrize("name", OUTCOMES)
def test_recorded_results_are_copied_into_the_answer_unparsed_and_it_is_the_same_answer(name):
    outcome, with_parameters, with_observables = OUTCOMES[name]
    results = nest_results(
        outcome, with_parameters=with_parameters, with_observables=with_observables
    )
    recorded = to_json(results)  # as domain/job.py records them

    assert split_results(recorded) is not None  # the fast way was taken
    assert job_json(DOC, recorded) == to_json(present_job(DOC, from_json(recorded)))


def test_results_recorded_by_older_versions_give_the_same_answer():
    results = nest_results(
        ExecutionOutcome([sweep(2)]), with_parameters=True, with_observables=False
    )
    for recorded in (
        json.dumps(results, separators=(",", ":")).encode(),  # before pydantic-core wrote them
        json.dumps(results).encode(),  # spaces: not the recorded layout, parsed instead
        b'{"quantum_results":[]}',  # a dry run's
    ):
        answer = json.loads(job_json(DOC, recorded))
        assert answer == json.loads(to_json(present_job(DOC, json.loads(recorded))))


@pytest.mark.parametrize(
    "recorded",
    [
        # a named key inside a bulky value: the cut would not close its brackets
        b'{"quantum_results":[[{"0":1,"counts":2}]],"counts":[[{"0":1}]],"metadata":{}}',
        # a string value inside a bulky value
        b'{"quantum_results":[["0","x"]],"transpiled":[{}]}',
        # a field the domain does not write, with a name the fast way does not read
        b'{"quantum_results":[1],"odd-name":{"a":[1]},"metadata":{"x":1}}',
        # the results' own fields, in another order
        b'{"quantum_results":[1],"metadata":{"m":1},"counts":[{"0":5}]}',
        b'{"counts":[{"0":5}],"quantum_results":[1]}',
        b'{"quantum_results":[1],"errors":[null],"uncertainty":[0.5]}',
    ],
)
def test_a_text_not_laid_out_as_recorded_results_gives_the_same_answer_parsed(recorded):
    expected = to_json(present_job(DOC, from_json(recorded)))
    assert job_json(DOC, recorded) == expected
    answer = json.loads(job_json(DOC, recorded))
    assert answer["info"]["metadata"] == from_json(recorded).get("metadata")


def test_a_job_without_results_answers_nulls():
    assert job_json(DOC, None) == to_json(present_job(DOC, None))
    assert json.loads(job_json(DOC, None))["info"] is None


def test_a_document_with_a_field_named_like_a_result_is_answered_as_before():
    doc = {**DOC, "counts": "not the results' counts"}
    recorded = to_json({"quantum_results": [[{"0": 1.0}]], "counts": [[{"0": 4}]]})
    assert job_json(doc, recorded) == to_json(present_job(doc, from_json(recorded)))


def test_a_user_reads_a_done_sweep_as_json_equal_to_the_answer_rest_gives(alice: Account):
    job = alice.run(
        circuits_qasm=[MEASURED_RY_CX], shots=200, parameters=[[[0.1], [1.2], [math.pi]]]
    )
    rest = alice.wait_for(job["id"])
    assert rest["status"] == "Done" and len(rest["quantum_results"][0]) == 3
    service = alice.client.app.state.service  # type: ignore[attr-defined]
    user = service.app.authenticate(alice.key)
    portal = alice.client.portal
    assert portal is not None
    query = JobQuery.model_validate({"job_id": job["id"]})

    spliced: bytes = portal.call(queries.job_status_json, service, user, query)
    presented: dict[str, Any] = portal.call(queries.job_status, service, user, query)

    assert spliced == to_json(presented)
    assert json.loads(spliced) == rest
    paged = JobQuery.model_validate({"job_id": job["id"], "circuit_limit": 1})
    assert json.loads(portal.call(queries.job_status_json, service, user, paged)) == json.loads(
        to_json(portal.call(queries.job_status, service, user, paged))
    )


def test_the_json_query_of_another_users_job_is_not_found(alice: Account, bob: Account):
    job = alice.run(circuits_qasm=[MEASURED_RY_CX], shots=10, parameters=[[[0.3]]])
    alice.wait_for(job["id"])
    service = bob.client.app.state.service  # type: ignore[attr-defined]
    portal = bob.client.portal
    assert portal is not None
    with pytest.raises(NotFound):
        portal.call(
            queries.job_status_json,
            service,
            service.app.authenticate(bob.key),
            JobQuery.model_validate({"job_id": job["id"]}),
        )

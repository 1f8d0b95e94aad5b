"""IBM QPUs: a user's job of many circuits and parameter sets is ONE primitive job at IBM (one
per primitive it needs: the Sampler for measured circuits, the Estimator for observables), and
what it cost is IBM's billed QPU time x the price table's per-second price.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ibm import build, service
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.execution import (
    ActualCost,
    CircuitTask,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderJob,
)
from tests.conftest import BELL_QASM2 as BELL
from tests.conftest import GHZ3_QASM2 as GHZ3
from tests.conftest import RY_CX
from tests.fakes.ibm_quantum import FakeIBMQuantum

TOKEN = "Zq3_k9-" + "y" * 37
CREDENTIALS = {"ibm_quantum_token": TOKEN}
IBM = build(ProviderConfig())
DEVICE = {device.id: device for device in IBM.devices()}["ibm_brisbane"]
PER_SECOND = load_prices()["entries"]["ibm:pay_as_you_go"]["per_second"]

ROTATED_BELL = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[2] q;
bit[2] c;
ry(theta) q[0];
cx q[0], q[1];
c = measure q;
"""
ZZ = (ObservableSpec(("ZZ",), (1.0,)),)


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIBMQuantum]:
    fake = FakeIBMQuantum(pending_polls=0)
    monkeypatch.setattr(service, "connect", lambda *_: fake)
    service.SERVICES.clear()
    yield fake
    service.SERVICES.clear()


def task(*circuits: CircuitTask, shots: int = 500, token: str = "job-ibm") -> ExecutionTask:
    return ExecutionTask(
        job_id=token,
        device_id="ibm_brisbane",
        run_type="Run",
        shots=shots,
        circuits=circuits,
        options={},
        client_token=token,
    )


def run(work: ExecutionTask) -> tuple[ProviderJob, ExecutionOutcome]:
    job = IBM.submit(work, DEVICE, CREDENTIALS)
    for _ in range(5):
        outcome = IBM.poll(work, DEVICE, job, CREDENTIALS)
        if outcome is not None:
            return job, outcome
    raise AssertionError("the job never finished")


def test_many_circuits_and_parameter_sets_make_one_sampler_job(
    platform: FakeIBMQuantum,
) -> None:
    sweep = CircuitTask(ROTATED_BELL, parameter_sets=((0.0,), (1.0,), (3.14159,)))
    work = task(CircuitTask(BELL), sweep, CircuitTask(GHZ3), CircuitTask(BELL))

    job, outcome = run(work)

    assert platform.creates == 1 and len(job.ids) == 1
    assert [e["primitive"] for e in job.data["jobs"]] == ["sampler"]
    assert [len(c.counts or []) for c in outcome.circuits] == [1, 3, 1, 1]
    assert outcome.circuits[1].counts is not None
    assert outcome.circuits[1].counts[0].get("00", 0) > 400  # theta = 0


def test_observables_of_many_circuits_make_one_estimator_job(platform: FakeIBMQuantum) -> None:
    sweep = CircuitTask(RY_CX, parameter_sets=((0.0,), (1.0,)), observables=ZZ)
    work = task(CircuitTask(GHZ3, observables=(ObservableSpec(("ZZI",), (1.0,)),)), sweep)

    job, outcome = run(work)

    assert platform.creates == 1 and [e["primitive"] for e in job.data["jobs"]] == ["estimator"]
    assert outcome.circuits[1].expectation_values is not None
    assert len(outcome.circuits[1].expectation_values[0]) == 2


def test_a_job_mixing_both_makes_one_job_per_primitive_and_its_cost_is_the_billed_time(
    platform: FakeIBMQuantum,
) -> None:
    platform.usage_seconds = 3.25
    work = task(CircuitTask(BELL), CircuitTask(RY_CX, parameter_sets=((0.5,),), observables=ZZ))

    job, outcome = run(work)

    assert platform.creates == 2 and len(job.ids) == 2  # a Sampler and an Estimator: no fewer
    assert outcome.cost == ActualCost(
        usd=round(2 * 3.25 * PER_SECOND, 6),
        source="computed",
        tasks=2,
        shots=500 * 2,
        seconds=6.5,
    )
    assert outcome.metadata["qpu_seconds"] == dict.fromkeys(job.ids, 3.25)


def test_while_ibm_has_not_computed_the_usage_the_cost_is_unknown(
    platform: FakeIBMQuantum,
) -> None:
    platform.usage_pending = True

    _, outcome = run(task(CircuitTask(BELL)))

    assert outcome.cost is None and outcome.circuits[0].counts is not None


def test_a_dry_run_pays_the_job_overhead_once_per_ibm_job() -> None:
    overhead = load_prices()["entries"]["ibm:pay_as_you_go"]["time"]["task_overhead_seconds"]
    circuits = [CircuitTask(BELL), CircuitTask(GHZ3), CircuitTask(BELL)]
    alone = [IBM.estimate(task(circuit), DEVICE) for circuit in circuits]

    together = IBM.estimate(task(*circuits), DEVICE)

    assert together.breakdown["ibm_jobs"] == 1
    assert together.seconds == pytest.approx(sum(e.seconds for e in alone) - 2 * overhead)
    assert together.usd == pytest.approx(together.seconds * PER_SECOND, abs=1e-5)
    estimated = CircuitTask(RY_CX, parameter_sets=((0.5,),), observables=ZZ)
    mixed = IBM.estimate(task(CircuitTask(BELL), estimated), DEVICE)
    assert mixed.breakdown["ibm_jobs"] == 2

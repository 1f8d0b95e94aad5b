"""How large a StatevectorRun may be (issue 14, point 2): 24 qubits on dense simulators by
default, within the job's memory and the machine's; on a device that computes expectation
values without a dense state, as many qubits as it has, but only with observables."""

from __future__ import annotations

from typing import Any

import pytest

from qorch.domain.circuit import CircuitFacts
from qorch.domain.devices import Device
from qorch.domain.errors import RequestError
from qorch.domain.requests import Limits, RunRequest, plan_run
from qorch.domain.statevector import OBSERVABLES_QUBITS, dense_statevector_mb


def dense(memory_mb: int | None = 4096, qubits: int = 26) -> Device:
    """A dense simulator as the device catalogue lists it, with its job limits."""
    return Device(
        "dense",
        "local",
        "Aer",
        "dense",
        qubits,
        True,
        supports_statevector=True,
        extra={"limits": {"time_seconds": 600.0, "memory_mb": memory_mb}},
    )


def mps(qubits: int = 63) -> Device:
    return Device(
        "mps",
        "local",
        "Aer",
        "mps",
        qubits,
        True,
        supports_statevector=True,
        extra={OBSERVABLES_QUBITS: qubits, "limits": {"time_seconds": 600.0, "memory_mb": 256}},
    )


def plan(qubits: int, device: Device, limits: Limits | None = None, observables: bool = True):
    circuit = CircuitFacts("", "qasm2", "h", qubits, (), False)
    z0: Any = [["I" * (qubits - 1) + "Z"], [1.0]] if observables else None
    request = RunRequest("e", circuits_qasm=[""], observables=z0, run_type="StatevectorRun")
    return plan_run(request, [circuit], device, limits or Limits())


def refusal(qubits: int, device: Device, **kwargs: Any) -> RequestError:
    with pytest.raises(RequestError) as raised:
        plan(qubits, device, **kwargs)
    assert raised.value.field == "circuits[0]"
    return raised.value


def test_a_dense_statevector_run_takes_24_qubits_by_default_and_not_25():
    assert plan(24, dense()).observables is not None

    error = refusal(25, dense())

    assert "capped at 24 qubits on dense simulators" in str(error)
    assert "aer_simulator_matrix_product_state" in str(error)


def test_a_dense_state_needs_16_bytes_an_amplitude_and_more_when_every_amplitude_is_returned():
    assert dense_statevector_mb(24, full_state=False) == 256 + 64
    # Returned as numbers and probabilities: about 290 bytes an amplitude, measured.
    assert dense_statevector_mb(20, full_state=True) == 300 + 64


def test_a_dense_statevector_run_over_the_job_memory_limit_is_refused():
    assert plan(23, dense(memory_mb=256)).observables is not None  # 128 MiB of amplitudes

    error = refusal(24, dense(memory_mb=256))

    assert "2^24 amplitudes" in str(error) and "320 MiB" in str(error)
    assert "the job memory limit on dense (256 MiB)" in str(error)


def test_a_device_without_a_job_memory_limit_is_bounded_by_the_machine():
    limits = Limits(statevector_max_qubits=34, machine_memory_mb=16 * 1024)
    unlimited = dense(memory_mb=None, qubits=34)

    assert plan(29, unlimited, limits).observables is not None  # 8 GiB
    error = refusal(30, unlimited, limits=limits)  # 16 GiB and the simulator's own

    assert "the memory of this machine (16,384 MiB)" in str(error)


def test_the_smaller_of_the_job_limit_and_the_machine_bounds_the_run():
    limits = Limits(machine_memory_mb=150)

    error = refusal(23, dense(memory_mb=4096), limits=limits)

    assert "the memory of this machine (150 MiB)" in str(error)


def test_returning_every_amplitude_counts_the_memory_of_the_returned_state():
    assert plan(20, dense(memory_mb=1024), observables=False).observables is None

    error = refusal(22, dense(memory_mb=1024), observables=False)

    assert "all of them returned" in str(error)
    assert "give observables" in str(error)


def test_a_matrix_product_state_takes_observables_past_the_dense_cap():
    assert plan(60, mps()).observables is not None  # no dense state: no 16 * 2^60 bytes
    assert plan(63, mps()).observables is not None

    narrower = Device(**{**mps().__dict__, "extra": {OBSERVABLES_QUBITS: 40}})
    error = refusal(50, narrower)

    assert "exact expectation values for at most 40" in str(error)


def test_every_amplitude_of_40_qubits_is_refused_on_a_matrix_product_state_too():
    error = refusal(40, mps(), observables=False)

    assert "capped at 24 qubits" in str(error)
    assert "without observables every amplitude is returned" in str(error)
    assert "give observables to get exact expectation values for up to 63 qubits" in str(error)


def test_a_matrix_product_state_returns_every_amplitude_within_the_dense_rules():
    assert plan(12, mps(), observables=False).observables is None

    error = refusal(22, mps(), observables=False)  # 1.2 GiB as returned, over 256 MiB

    assert "the job memory limit on mps (256 MiB)" in str(error)

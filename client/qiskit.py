"""Qiskit's V2 primitives on qorch: existing Qiskit code runs on any qorch device by swapping
the primitive.

    from qorch.client.qiskit import Estimator, Sampler
    sampler = Sampler(device="fake_nairobi")   # QORCH_URL / QORCH_API_KEY, as the CLI
    counts = sampler.run([(circuit, values)]).result()[0].data.meas.get_counts()

Every PUB of one `run` becomes circuits of ONE qorch job (OpenQASM 3, parameter sets,
observables); its results come back as a PrimitiveResult: a BitArray per classical register
(from qorch's counts) or `evs`/`stds`, in each PUB's broadcast shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import numpy as np
from qiskit.primitives import (
    BaseEstimatorV2,
    BaseSamplerV2,
    BitArray,
    DataBin,
    PrimitiveResult,
    PubResult,
    SamplerPubResult,
)
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike

from qorch.client.qiskit_job import JobFailed, QorchPrimitiveJob
from qorch.client.qiskit_wire import (
    Entry,
    Observable,
    circuit_qasm,
    observable_wire,
    packed_samples,
    parameter_rows,
    per_set,
    registers_of,
)
from qorch.client.sync import Client

__all__ = ["Estimator", "JobFailed", "QorchPrimitiveJob", "Sampler"]

Job = dict[str, Any]
DEFAULT_PRECISION = 1 / 64
"""Qiskit's BackendEstimatorV2 and IBM's Estimator default: 4096 shots."""
MAX_ENTRIES_PER_PUB = 16
"""An Estimator PUB pairing observables and parameter sets element-wise needs a qorch circuit
per distinct set of observables; past this many, one circuit runs every combination."""


class _Primitive:
    def __init__(
        self,
        device: str,
        client: Client | None,
        options: dict[str, Any] | None,
        use_mitigation: bool,
        experiment_id: str | None,
    ) -> None:
        self.device = device
        self.options = dict(options or {})
        self.use_mitigation = use_mitigation
        self.experiment_id = experiment_id
        self._client = client if client is not None else Client()

    def _submit(
        self, entries: list[Entry], decode: Callable[[Job, bool], PrimitiveResult], **fields: Any
    ) -> QorchPrimitiveJob:
        """Submits the entries as one job; `decode(job, with_parameters)` reads its results."""
        body: dict[str, Any] = {
            "device_id": self.device,
            "circuits_qasm": [entry.qasm for entry in entries],
            "options": self.options,
            "use_mitigation": self.use_mitigation,
            **fields,
        }
        with_parameters = any(entry.parameter_sets != [[]] for entry in entries)
        if with_parameters:
            body["parameters"] = [entry.parameter_sets for entry in entries]
        if entries[0].observables is not None:
            body["observables"] = [entry.observables for entry in entries]
        if self.experiment_id:
            body["experiment_id"] = self.experiment_id
        job = self._client.submit(body)
        return QorchPrimitiveJob(self._client, job, lambda done: decode(done, with_parameters))


def _metadata(job: Job) -> dict[str, Any]:
    return {"version": 2, "job_id": job["id"], "device": job.get("device_id")}


class Sampler(_Primitive, BaseSamplerV2):
    """`BaseSamplerV2` on a qorch device. The job runs the largest `shots` of its PUBs; a PUB
    asking for fewer gets a random subset of its shots."""

    def __init__(
        self,
        device: str = "aer_simulator",
        *,
        client: Client | None = None,
        default_shots: int = 1024,
        options: dict[str, Any] | None = None,
        use_mitigation: bool = False,
        experiment_id: str | None = None,
    ) -> None:
        super().__init__(device, client, options, use_mitigation, experiment_id)
        self._default_shots = default_shots

    @property
    def default_shots(self) -> int:
        return self._default_shots

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> QorchPrimitiveJob:
        shots = self._default_shots if shots is None else shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        if not coerced:
            raise ValueError("pubs: give at least one PUB")
        entries: list[Entry] = []
        places: list[list[int]] = []
        registers = []
        for index, pub in enumerate(coerced):
            registers.append(registers_of(pub.circuit, f"pubs[{index}]"))
            qasm = circuit_qasm(pub.circuit)
            if pub.circuit.num_parameters:
                rows = parameter_rows(pub.circuit, pub.parameter_values).tolist()
                places.append([len(entries)] * pub.size)
                entries.append(Entry(qasm, rows))
            else:  # qorch takes one (empty) parameter set per such circuit: one circuit each
                places.append(list(range(len(entries), len(entries) + pub.size)))
                entries.extend(Entry(qasm) for _ in range(pub.size))

        decode = partial(_sampler_result, coerced, registers, places)
        return self._submit(entries, decode, shots=max(pub.shots for pub in coerced))


def _sampler_result(
    pubs: list[SamplerPub],
    registers: list[list[tuple[str, int]]],
    places: list[list[int]],
    job: Job,
    with_parameters: bool,
) -> PrimitiveResult:
    counts = [per_set(value, with_parameters) for value in job["counts"]]
    rng = np.random.default_rng()
    results = []
    for pub, pub_registers, entry_of in zip(pubs, registers, places, strict=True):
        arrays = packed_samples(_sets_of(entry_of, counts), pub_registers, pub.shots, rng)
        bits = {
            name: BitArray(arrays[name].reshape(pub.shape + arrays[name].shape[1:]), size)
            for name, size in pub_registers
        }
        metadata = {"shots": pub.shots, "circuit_metadata": pub.circuit.metadata}
        results.append(SamplerPubResult(DataBin(**bits, shape=pub.shape), metadata))
    return PrimitiveResult(results, metadata={**_metadata(job), "shots": job["shots"]})


def _sets_of(entry_of: list[int], counts: list[list[Any]]) -> list[Any]:
    """The PUB's positions (flattened) in the job's results: a circuit's parameter sets in
    order, or one circuit per position."""
    if len(set(entry_of)) == 1:
        return counts[entry_of[0]]
    return [counts[entry][0] for entry in entry_of]


class Estimator(_Primitive, BaseEstimatorV2):
    """`BaseEstimatorV2` on a qorch device. A precision p > 0 runs ceil(1/p²) shots (the job
    takes its PUBs' finest precision); precision 0 asks for exact values (`StatevectorRun`),
    which only qorch's ideal simulators run: other devices refuse it naming `device_id`."""

    def __init__(
        self,
        device: str = "aer_simulator",
        *,
        client: Client | None = None,
        default_precision: float = DEFAULT_PRECISION,
        options: dict[str, Any] | None = None,
        use_mitigation: bool = False,
        experiment_id: str | None = None,
    ) -> None:
        super().__init__(device, client, options, use_mitigation, experiment_id)
        self._default_precision = default_precision

    @property
    def default_precision(self) -> float:
        return self._default_precision

    def run(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
    ) -> QorchPrimitiveJob:
        precision = self._default_precision if precision is None else precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        if not coerced:
            raise ValueError("pubs: give at least one PUB")
        entries: list[Entry] = []
        places = [_estimator_entries(pub, entries) for pub in coerced]
        precisions = [pub.precision or 0.0 for pub in coerced]
        exact = min(precisions) == 0
        fields: dict[str, Any] = {"run_type": "StatevectorRun" if exact else "Run"}
        if not exact:
            fields["shots"] = math.ceil(1 / min(precisions) ** 2)

        decode = partial(_estimator_result, coerced, places, exact)
        return self._submit(entries, decode, **fields)


Place = tuple[int, int, int]
"""(circuit, observable, parameter set) in the qorch job's results."""


def _estimator_result(
    pubs: list[EstimatorPub],
    places: list[list[Place]],
    exact: bool,
    job: Job,
    with_parameters: bool,
) -> PrimitiveResult:
    uncertainty = (job.get("info") or {}).get("uncertainty")
    results = []
    for pub, place in zip(pubs, places, strict=True):
        evs = np.array([_value(job["quantum_results"], at, with_parameters) for at in place])
        stds = np.array([_value(uncertainty, at, with_parameters) for at in place])
        data = DataBin(evs=evs.reshape(pub.shape), stds=stds.reshape(pub.shape), shape=pub.shape)
        metadata = {
            "target_precision": pub.precision,
            "shots": None if exact else job["shots"],
            "circuit_metadata": pub.circuit.metadata,
        }
        results.append(PubResult(data, metadata))
    return PrimitiveResult(results, metadata={**_metadata(job), "run_type": job["run_type"]})


def _estimator_entries(pub: EstimatorPub, entries: list[Entry]) -> list[Place]:
    """Adds the PUB's circuits to `entries`; where each broadcast position's value will be."""
    circuit = pub.circuit.remove_final_measurements(inplace=False)
    qasm = circuit_qasm(circuit)
    observables = pub.observables.ravel().sparse_observables_array()
    rows = parameter_rows(circuit, pub.parameter_values).tolist()
    observable_at = _broadcast_index(pub.observables.shape, pub.shape)
    set_at = _broadcast_index(pub.parameter_values.shape, pub.shape)
    wires: dict[int, Observable] = {}
    where: dict[tuple[int, int], Place] = {}
    for needed, sets in _groups(observable_at, set_at, circuit.num_parameters > 0):
        for o in needed:
            wires.setdefault(o, observable_wire(observables[o]))
        for p_pos, p in enumerate(sets):
            for o_pos, o in enumerate(needed):
                where[o, p] = (len(entries), o_pos, p_pos)
        entries.append(Entry(qasm, [rows[p] for p in sets], [wires[o] for o in needed]))
    return [where[o, p] for o, p in zip(observable_at, set_at, strict=True)]


def _groups(
    observable_at: list[int], set_at: list[int], parameterised: bool
) -> list[tuple[list[int], list[int]]]:
    """(observables, parameter sets) of each qorch circuit for a PUB. qorch evaluates every
    observable of a circuit on each of its parameter sets, so the sets that need the same
    observables share a circuit; a circuit without parameters takes one (empty) set."""
    needs: dict[int, set[int]] = {}
    for o, p in zip(observable_at, set_at, strict=True):
        needs.setdefault(p, set()).add(o)
    if not parameterised:
        return [(sorted(needed), [p]) for p, needed in needs.items()]
    groups: dict[tuple[int, ...], list[int]] = {}
    for p, needed in needs.items():
        groups.setdefault(tuple(sorted(needed)), []).append(p)
    if len(groups) > MAX_ENTRIES_PER_PUB:
        return [(sorted(set(observable_at)), sorted(needs))]
    return [(list(needed), sets) for needed, sets in groups.items()]


def _broadcast_index(shape: tuple[int, ...], to: tuple[int, ...]) -> list[int]:
    return np.broadcast_to(np.arange(math.prod(shape)).reshape(shape), to).ravel().tolist()


def _value(results: Any, at: Place, with_parameters: bool) -> float:
    """A number of the job's results; a StatevectorRun's exact values have no uncertainty."""
    if results is None:
        return 0.0
    circuit, observable, parameter_set = at
    return float(per_set(results[circuit][observable], with_parameters)[parameter_set])

"""The echo provider's whole implementation: catalogue, options, runs and remote handles."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.pipeline.circuits import load_circuit, parameter_sets
from qorch.adapters.providers.pipeline.options import check_known, option_integer
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitOutcome,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
    ProviderJob,
)

NAME = "echo"
TOKEN = "echo_token"
SECRET_PREFIX = "echo-SECRET-"
REMOTE_DELAY = 0.05
"""Seconds a remote job stays queued: its first poll finds it not done yet."""

LOCAL = Device(
    id="echo_local",
    provider=NAME,
    vendor="qorch tests",
    name="Echo (inline)",
    qubits=8,
    simulator=True,
    supports_statevector=False,
)
REMOTE = Device(
    id="echo_remote",
    provider=NAME,
    vendor="qorch tests",
    name="Echo (remote)",
    qubits=8,
    simulator=True,
    remote=True,
    credentials=(TOKEN,),
    price_key=None,
)


@dataclass(frozen=True)
class EchoProvider:
    config: ProviderConfig
    name: str = NAME

    def devices(self) -> list[Device]:
        return [LOCAL, REMOTE]

    def check_request(
        self, device: Device, run_type: str, options: dict[str, Any], mitigate: bool
    ) -> None:
        check_known(options, ("seed",), "echo devices", ignored=(TOKEN,))
        option_integer(options, "seed", 2**32 - 1)
        if run_type != "Run":
            raise ProviderError(
                "unsupported_option", "run_type: echo samples shots", field="run_type"
            )

    def estimate(self, task: ExecutionTask, device: Device) -> CostEstimate:
        shapes = []
        for index, circuit_task in enumerate(task.circuits):
            circuit = load_circuit(circuit_task.source, f"circuits[{index}]")
            shapes.append({"qubits": circuit.num_qubits, "depth": circuit.depth()})
        return CostEstimate(seconds=0.0, usd=0.0, circuits=shapes)

    def run(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        from qiskit.primitives import StatevectorEstimator, StatevectorSampler
        from qiskit.quantum_info import SparsePauliOp

        seed = option_integer(task.options, "seed", 2**32 - 1) or 7
        outcomes = []
        for index, circuit_task in enumerate(task.circuits):
            where = f"circuits[{index}]"
            circuit = load_circuit(circuit_task.source, where)
            sets = parameter_sets(circuit, circuit_task.parameter_sets, where)
            outcome = CircuitOutcome(transpiled={"qubits": circuit.num_qubits})
            if circuit_task.observables is not None:
                operators = [
                    SparsePauliOp.from_list(list(zip(o.paulis, o.coefficients, strict=True)))
                    for o in circuit_task.observables
                ]
                bare = circuit.remove_final_measurements(inplace=False)
                pubs = [(bare, operator, sets) for operator in operators]
                values = StatevectorEstimator().run(pubs).result()
                outcome.expectation_values = [[float(v) for v in r.data.evs] for r in values]
                outcome.standard_errors = [[0.0] * len(sets) for _ in operators]
            else:
                sampled = StatevectorSampler(seed=seed).run([(circuit, sets)], shots=task.shots)
                bits = sampled.result()[0].join_data()
                outcome.counts = [bits.get_counts(p) for p in range(len(sets))]
                outcome.distributions = [
                    {k: v / task.shots for k, v in counts.items()} for counts in outcome.counts
                ]
            outcomes.append(outcome)
        return ExecutionOutcome(outcomes, {"provider": NAME})

    def submit(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ProviderJob:
        self._check_token(credentials)
        job_id = hashlib.sha256(task.client_token.encode()).hexdigest()[:16]
        return ProviderJob(NAME, (job_id,), {"ready_at": time.time() + REMOTE_DELAY})

    def poll(
        self, task: ExecutionTask, device: Device, job: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome | None:
        self._check_token(credentials)
        if time.time() < float(job.data["ready_at"]):
            return None
        outcome = self.run(task, device, credentials)
        outcome.metadata["provider_job_ids"] = list(job.ids)
        return outcome

    def cancel(self, device: Device, job: ProviderJob, credentials: dict[str, str]) -> None:
        self._check_token(credentials)

    def live_status(
        self, devices: list[Device], credentials: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        self._check_token(credentials)
        return {device.id: {"status": "online", "queue": 0} for device in devices}

    def warm_up(self) -> None:
        pass

    @staticmethod
    def _check_token(credentials: dict[str, str]) -> None:
        if not credentials.get(TOKEN, "").startswith(SECRET_PREFIX):
            raise ProviderError(
                "invalid_credentials", "echo refused the token", field=f"options.{TOKEN}"
            )

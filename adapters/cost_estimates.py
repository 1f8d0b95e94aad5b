"""What a run would cost, estimated at submit for the user's budget (the `EstimateCost` port):
the provider's dry-run estimate, made in a parser process (adapters/circuit_sandbox.py), so the
transpile is bounded in time and memory and never holds the API process's CPU.

Agents resubmit the same runs, and concurrent submits of one run arrive together: an estimate is
made once per distinct task (the others wait for it) and the last ones are kept.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from qorch.adapters import circuit_sandbox
from qorch.adapters.circuit_sandbox import SandboxFailure
from qorch.adapters.keyed_locks import KeyedLocks
from qorch.adapters.providers import Registry
from qorch.domain.devices import Device
from qorch.domain.execution import CostEstimate, ExecutionTask, ProviderError
from qorch.domain.ports import Provider

CACHED_ESTIMATES = 256
Call = Callable[..., Any]


class Estimates:
    def __init__(self, registry: Registry, call: Call = circuit_sandbox.call) -> None:
        self.registry = registry
        self.call = call
        """Runs a function in a parser process (the process-wide pool; tests give their own)."""
        self._known: OrderedDict[bytes, CostEstimate] = OrderedDict()
        self._making = KeyedLocks()
        self._lock = threading.Lock()

    def __call__(self, device: Device, task: ExecutionTask) -> CostEstimate:
        key = hashlib.sha256(pickle.dumps((device.id, task), protocol=5)).digest()
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                self._known.move_to_end(key)
                return known
        with self._making.held(key):  # one estimate per task at a time: the others find it made
            with self._lock:
                known = self._known.get(key)
            if known is not None:
                return known
            estimate = self._estimate(device, task)
            with self._lock:
                self._known[key] = estimate
                while len(self._known) > CACHED_ESTIMATES:
                    self._known.popitem(last=False)
            return estimate

    def _estimate(self, device: Device, task: ExecutionTask) -> CostEstimate:
        provider = self.registry.provider_of(device)
        try:
            status, value = self.call(estimate_here, provider, task, device)
        except SandboxFailure as failure:
            raise ProviderError(
                "estimate_failed", f"the cost of this run could not be estimated: {failure}"
            ) from None
        if status == "refused":
            raise value
        estimate: CostEstimate = value
        return estimate


def estimate_here(provider: Provider, task: ExecutionTask, device: Device) -> tuple[str, Any]:
    """In a parser process: the estimate, or the device's refusal (a ProviderError, which
    pickles with its fields)."""
    try:
        return ("ok", provider.estimate(task, device))
    except ProviderError as error:
        return ("refused", error)

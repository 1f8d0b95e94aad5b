"""What a request may ask of IonQ: its options, and what `use_mitigation` means there (IonQ's
debiasing on QPUs; nothing to do on the ideal simulator)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qorch.adapters.providers.ionq.catalogue import NOISE_MODELS, Spec, spec_of
from qorch.adapters.providers.pipeline.options import (
    check_known,
    checked,
    choice,
    only_run,
    option_error,
    option_integer,
)
from qorch.domain.devices import Device
from qorch.domain.execution import ProviderError

SUPPORTED_OPTIONS = ("noise_model", "sampler_seed", "optimization_level")
SIMULATOR_ONLY_OPTIONS = ("noise_model", "sampler_seed")
DEFAULT_OPTIMIZATION_LEVEL = 1  # IonQ recommends 0-1 for the qis gateset
DEBIAS_MIN_SHOTS = 500  # IonQ refuses debiasing below 500 shots
MAX_SEED = 2**31 - 1  # the API's noise seed is an int32


@dataclass(frozen=True)
class Options:
    noise_model: str | None
    """The simulator's noise model ("ideal" by default); None on QPUs."""
    sampler_seed: int | None
    optimization_level: int


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    check_run_type(run_type)
    parsed = parse_options(device, options)
    mitigation(spec_of(device), parsed, mitigate, shots=None)


def check_run_type(run_type: str) -> None:
    only_run(run_type, "IonQ devices", "use a local statevector simulator for exact states")


def parse_options(device: Device, options: Mapping[str, Any]) -> Options:
    simulator = spec_of(device).simulator
    check_known(options, SUPPORTED_OPTIONS, "IonQ devices")
    for name in SIMULATOR_ONLY_OPTIONS:
        if name in options and not simulator:
            raise option_error(
                name,
                f"applies to ionq_simulator only, not to the QPU {device.id}",
                "unsupported_option",
            )
    noise_model = checked(options, "noise_model", choice(*NOISE_MODELS))
    level = option_integer(options, "optimization_level", 3)
    return Options(
        noise_model=(noise_model or "ideal") if simulator else None,
        sampler_seed=option_integer(options, "sampler_seed", MAX_SEED),
        optimization_level=DEFAULT_OPTIMIZATION_LEVEL if level is None else level,
    )


def mitigation(spec: Spec, options: Options, mitigate: bool, shots: int | None) -> str:
    """ "none", "none (ideal simulator)" or "debiasing"; raises what IonQ would refuse."""
    if not mitigate:
        return "none"
    if spec.simulator:
        if options.noise_model == "ideal":
            return "none (ideal simulator)"
        raise _refused(
            "IonQ's debiasing runs on QPUs only; the simulator with a noise model cannot "
            "mitigate it"
        )
    if shots is not None and shots < DEBIAS_MIN_SHOTS:
        raise _refused(f"IonQ's debiasing needs at least {DEBIAS_MIN_SHOTS} shots")
    return "debiasing"


def _refused(why: str) -> ProviderError:
    return ProviderError("unsupported_option", f"use_mitigation: {why}", field="use_mitigation")

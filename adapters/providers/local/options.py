"""The options the local simulators take, and what `use_mitigation` applies, checked before a
job is recorded and again when it runs.

Mitigation applies only to a Run on a noisy device: readout-error mitigation (mthree) of the
distributions and zero-noise extrapolation (folding + mitiq) of the expectation values, see
`qorch.adapters.providers.pipeline.mitigation`, imported only then. Otherwise the metadata says
why nothing was applied ("none", "none (noiseless simulator)", "none (exact statevector)").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.pipeline.options import MAX_SEED, option_error, option_integer
from qorch.domain.devices import Device

if TYPE_CHECKING:
    from qorch.adapters.providers.pipeline.mitigation import ZneSettings

SUPPORTED_OPTIONS = ("seed_simulator", "optimization_level", "seed_transpiler")
DEFAULT_OPTIMIZATION_LEVEL = 1


@dataclass(frozen=True)
class Options:
    seed_simulator: int | None
    optimization_level: int
    seed_transpiler: int | None


@dataclass(frozen=True)
class Mitigation:
    label: str
    """What the metadata says when nothing is applied."""
    zne: ZneSettings | None = None
    """Set when mitigating (a noisy Run): ZNE settings for the observables; the distributions
    get readout-error mitigation."""

    @property
    def active(self) -> bool:
        return self.zne is not None


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    """What a run would refuse, checked before the job is recorded."""
    parse_options(options)
    mitigation_for(device, run_type, mitigate, options)


def parse_options(options: Mapping[str, Any]) -> Options:
    for name in options:
        if name not in SUPPORTED_OPTIONS and name not in _mitigation_options():
            raise option_error(
                name,
                "not supported by local simulators (supported: "
                f"{', '.join(SUPPORTED_OPTIONS + _mitigation_options())}, the last ones only "
                "with use_mitigation on a noisy simulator)",
                "unsupported_option",
            )
    level = option_integer(options, "optimization_level", 3)
    return Options(
        seed_simulator=option_integer(options, "seed_simulator", MAX_SEED),
        optimization_level=DEFAULT_OPTIMIZATION_LEVEL if level is None else level,
        seed_transpiler=option_integer(options, "seed_transpiler", MAX_SEED),
    )


def mitigation_for(
    device: Device, run_type: str, mitigate: bool, options: Mapping[str, Any]
) -> Mitigation:
    if mitigate and device.noisy and run_type == "Run":
        from qorch.adapters.providers.pipeline.mitigation import zne_settings

        return Mitigation("applied", zne_settings(options))
    if not mitigate:
        label = "none"
    elif run_type == "StatevectorRun":
        label = "none (exact statevector)"
    else:
        label = "none (noiseless simulator)"
    for name in options:
        if name not in SUPPORTED_OPTIONS:  # parse_options let only mitigation options through
            raise option_error(
                name, "only with use_mitigation on a noisy simulator's Run", "unsupported_option"
            )
    return Mitigation(label)


def _mitigation_options() -> tuple[str, ...]:
    # Imported only when an option is not one of ours: unmitigated jobs never load mitigation.
    from qorch.adapters.providers.pipeline.mitigation import ZNE_OPTIONS

    return ZNE_OPTIONS

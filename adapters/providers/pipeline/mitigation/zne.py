"""Zero-noise extrapolation (ZNE) of expectation values, for the noisy local simulators.

Aer's EstimatorV2 applies the gate noise of the device but no readout error (it evaluates the
observables on the final state), so ZNE is the mitigation that matters there.

Noise scaling is global unitary folding, U -> U (U^dagger U)^k for the odd scale factor 2k + 1,
done in Qiskit on the transpiled (ISA) circuit, after transpiling, since the transpiler would
cancel U^dagger U. The inverse holds gates outside the device's basis (sxdg, negated rz
angles...), so it is re-translated with an optimization-level-0 pass manager of the same device
(trivial layout on the already physical qubits, nothing cancelled), and the noise model applies
to every folded gate. This is exactly what mitiq's `fold_global` computes for odd integer scale
factors. mitiq's own folding is not used: it converts the circuit to Cirq through OpenQASM 2,
which (measured with mitiq 1.1.0) needs the `ply` package that neither mitiq nor cirq-core
installs (ModuleNotFoundError here), refuses circuits with Qiskit Parameters
(CircuitConversionError), rewrites gates outside Cirq's set (ecr -> cx + u3 + ...) even at scale
factor 1, and drops the global phase. Folding in Qiskit keeps the parameters, so every circuit
still runs all its parameter sets and observables in one broadcast PUB per scale factor, all PUBs
in one Estimator call.

Extrapolation uses mitiq's factories (`RichardsonFactory`, `LinearFactory`, `ExpFactory`).
Richardson and linear extrapolation are linear maps of the measured values, value(0) =
sum_i c_i y_i; the coefficients c_i are mitiq's extrapolation of unit vectors, applied to all
values at once, and the standard error is precision * ||c||_2 (2.3 x precision for Richardson on
1, 3, 5). Exponential extrapolation is non-linear: mitiq fits every value on its own (asymptote
free, so at least three scale factors); the standard error comes from the delta method (the fit
linearised at its optimum); a fit that fails or lands outside the observable's range (sum of
|coefficients|) falls back to the linear extrapolation, counted in the metadata. Extrapolated
values are not clipped to the observable's range.

Shot noise: every scale factor is estimated as if measured with `shots` shots (on hardware ZNE
costs len(scale_factors) times the shots): Aer evaluates the exact noisy values (precision 0) and
we add an independent N(0, 1/sqrt(shots)) sample to each, from a generator seeded with
seed_simulator. (Aer's own precision noise restarts its generator from the same seed for every
PUB, which would give every scale factor the same draw.)
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np

from qorch.adapters.providers.pipeline.options import option_error

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

ZNE_OPTIONS = ("zne_scale_factors", "zne_extrapolation")
"""Options accepted only with use_mitigation on a noisy simulator's Run."""
DEFAULT_SCALE_FACTORS = (1, 3, 5)
EXTRAPOLATIONS = {
    "richardson": "RichardsonFactory",
    "linear": "LinearFactory",
    "exponential": "ExpFactory",
}
"""zne_extrapolation value -> mitiq factory."""
DEFAULT_EXTRAPOLATION = "richardson"
MAX_SCALE_FACTOR = 21
MAX_SCALE_FACTORS = 8


@dataclass(frozen=True)
class ZneSettings:
    scale_factors: tuple[int, ...] = DEFAULT_SCALE_FACTORS
    extrapolation: str = DEFAULT_EXTRAPOLATION


def zne_settings(options: Mapping[str, Any]) -> ZneSettings:
    """Validates the ZNE options; raises ProviderError naming the option."""
    extrapolation = options.get("zne_extrapolation", DEFAULT_EXTRAPOLATION)
    if not isinstance(extrapolation, str) or extrapolation not in EXTRAPOLATIONS:
        raise option_error(
            "zne_extrapolation", f"expected one of {', '.join(map(repr, EXTRAPOLATIONS))}"
        )
    raw = options.get("zne_scale_factors", DEFAULT_SCALE_FACTORS)
    wanted = (
        f"expected a list of 2 to {MAX_SCALE_FACTORS} distinct odd integers "
        f"from 1 to {MAX_SCALE_FACTOR}, e.g. [1, 3, 5]"
    )
    if not isinstance(raw, list | tuple) or not 2 <= len(raw) <= MAX_SCALE_FACTORS:
        raise option_error("zne_scale_factors", wanted)
    for value in raw:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value % 2 == 0
            or not 1 <= value <= MAX_SCALE_FACTOR
        ):
            raise option_error("zne_scale_factors", f"{value!r} is not allowed; {wanted}")
    if len(set(raw)) != len(raw):
        raise option_error("zne_scale_factors", f"repeated values; {wanted}")
    if extrapolation == "exponential" and len(raw) < 3:
        raise option_error("zne_scale_factors", "exponential extrapolation needs 3 or more")
    return ZneSettings(tuple(sorted(raw)), extrapolation)


def fold_global(
    isa: QuantumCircuit, scale_factor: int, inverse: QuantumCircuit | None = None
) -> QuantumCircuit:
    """U (U^dagger U)^k for scale_factor = 2k + 1; `inverse` is U^dagger, ready to run."""
    if scale_factor < 1 or scale_factor % 2 == 0:
        raise ValueError(f"scale factor {scale_factor} is not an odd integer >= 1")
    inverse = isa.inverse() if inverse is None else inverse
    folded = isa.copy()
    for _ in range((scale_factor - 1) // 2):
        folded.compose(inverse, inplace=True)
        folded.compose(isa, inplace=True)
    return folded


def folded_circuits(
    isa: QuantumCircuit,
    scale_factors: Sequence[int],
    translate: Callable[[QuantumCircuit], QuantumCircuit],
) -> list[QuantumCircuit]:
    """The ISA circuit folded to every scale factor; `translate` maps U^dagger to the device's
    basis without optimising (a level-0 pass manager of the same device). Raises ValueError
    when the circuit is not unitary (a measurement or reset left in it)."""
    from qiskit.circuit import Gate

    for instruction in isa.data:
        operation = instruction.operation
        if not isinstance(operation, Gate) and operation.name not in ("barrier", "delay"):
            raise ValueError(
                f"folding needs a unitary circuit, but it holds a {operation.name!r} "
                "(only final measurements are removed)"
            )
    inverse = translate(isa.inverse())
    return [fold_global(isa, factor, inverse) for factor in scale_factors]


def with_shot_noise(exact: np.ndarray, precision: float, rng: np.random.Generator) -> np.ndarray:
    """Exact (noisy-device) expectation values as shots with standard error `precision` measure
    them."""
    return exact + rng.normal(0.0, precision, exact.shape) if precision > 0 else exact


def extrapolate(
    settings: ZneSettings,
    measured: np.ndarray,
    precision: float,
    bounds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Zero-noise values from noisy ones.

    `measured` is (S, O, P): the expectation value per scale factor, observable and parameter
    set, as measured with standard error `precision`; `bounds` (O,) the largest |value| each
    observable can take. Returns the extrapolated values and standard errors, (O, P) each, and
    how many exponential fits fell back to linear extrapolation.
    """
    scale = len(settings.scale_factors)
    if measured.shape[0] != scale:
        raise ValueError(f"expected {scale} scale factors, got {measured.shape[0]}")
    linear = np.asarray(_coefficients(settings.extrapolation, settings.scale_factors))
    if settings.extrapolation != "exponential":
        values = np.tensordot(linear, measured, axes=1)
        return values, np.full(values.shape, precision * float(np.linalg.norm(linear))), 0
    fallback = np.asarray(_coefficients("linear", settings.scale_factors))
    fallback_error = precision * float(np.linalg.norm(fallback))
    values = np.empty(measured.shape[1:])
    errors = np.empty(measured.shape[1:])
    fallbacks = 0
    for index in np.ndindex(*measured.shape[1:]):
        observable, parameter_set = index
        column = measured[:, observable, parameter_set]
        fitted = _exponential(settings.scale_factors, column, float(bounds[observable]) + 1e-9)
        if fitted is None:
            fallbacks += 1
            values[index], errors[index] = float(fallback @ column), fallback_error
        else:
            values[index], gradient = fitted
            errors[index] = precision * float(np.linalg.norm(gradient))
    return values, errors, fallbacks


@functools.cache
def _coefficients(extrapolation: str, scale_factors: tuple[int, ...]) -> tuple[float, ...]:
    """c with value(0) = c . y for mitiq's (linear-in-y) Richardson or linear extrapolation."""
    from mitiq.zne.inference import LinearFactory, RichardsonFactory

    factory = RichardsonFactory if extrapolation == "richardson" else LinearFactory
    unit = np.eye(len(scale_factors))
    return tuple(float(factory.extrapolate(list(scale_factors), list(row))) for row in unit)


def _exponential(
    scale_factors: tuple[int, ...], values: np.ndarray, bound: float
) -> tuple[float, np.ndarray] | None:
    """mitiq's fit of y = a + b exp(z x) and the gradient of its value a + b w.r.t. the y's.

    The gradient is the delta method's: linearising the least-squares fit at its optimum,
    d(params)/dy = pinv(J) with J the model's Jacobian at the scale factors. (mitiq's own error
    estimate comes from the residuals, which vanish, and its covariance is infinite, whenever
    there are exactly three scale factors.) None when the fit fails or leaves the range.
    """
    from mitiq.zne.inference import ExpFactory

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # curve_fit's OptimizeWarning, overflow in exp
            value, _, params, _, _ = ExpFactory.extrapolate(
                list(scale_factors), values.tolist(), full_output=True
            )
    except Exception:  # mitiq's ExtrapolationError, scipy's RuntimeError...
        return None
    value = float(value)
    if not math.isfinite(value) or abs(value) > bound:
        return None
    _, b, z = (float(p) for p in params)
    x = np.asarray(scale_factors, dtype=float)
    growth = np.exp(z * x)
    jacobian = np.column_stack([np.ones_like(x), growth, b * x * growth])
    gradient = np.array([1.0, 1.0, 0.0]) @ np.linalg.pinv(jacobian)
    if not np.all(np.isfinite(gradient)):
        return None
    return value, gradient


def zne_metadata(settings: ZneSettings, circuits: list[int], fallbacks: int) -> dict[str, Any]:
    info: dict[str, Any] = {
        "method": "mitiq",
        "mitiq_version": version("mitiq"),
        "scaling": "fold_global",
        "folding": "U (U^dagger U)^k on the transpiled circuit, in Qiskit; U^dagger re-translated"
        " to the device's basis at optimization level 0",
        "factory": EXTRAPOLATIONS[settings.extrapolation],
        "scale_factors": list(settings.scale_factors),
        "circuits": circuits,
        "noise": "gate noise only (Aer's estimator applies no readout error)",
        "standard_errors": "shot noise 1/sqrt(shots) per scale factor, propagated through the"
        " extrapolation",
    }
    if settings.extrapolation == "exponential":
        info["fallbacks_to_linear"] = fallbacks
    else:
        info["coefficients"] = list(_coefficients(settings.extrapolation, settings.scale_factors))
    return info

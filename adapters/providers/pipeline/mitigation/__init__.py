"""Error mitigation done by qorch itself: readout correction with mthree (`readout`) and
zero-noise extrapolation with mitiq (`zne`).

Imported only when a job asks for mitigation; mthree and mitiq are imported lazily inside the
functions that use them (mitiq pulls in Cirq and Braket: about 3 s the first time in a process).
"""

from qorch.adapters.providers.pipeline.mitigation.readout import (
    CALIBRATION_METHOD,
    CALIBRATION_SEED,
    CALIBRATION_SHOTS,
    ReadoutReport,
    correct_readout,
    correct_readout_from_matrices,
    corrected,
    measured_qubits,
)
from qorch.adapters.providers.pipeline.mitigation.zne import (
    DEFAULT_EXTRAPOLATION,
    DEFAULT_SCALE_FACTORS,
    EXTRAPOLATIONS,
    MAX_SCALE_FACTOR,
    MAX_SCALE_FACTORS,
    ZNE_OPTIONS,
    ZneSettings,
    extrapolate,
    fold_global,
    folded_circuits,
    with_shot_noise,
    zne_metadata,
    zne_settings,
)

__all__ = [
    "CALIBRATION_METHOD",
    "CALIBRATION_SEED",
    "CALIBRATION_SHOTS",
    "DEFAULT_EXTRAPOLATION",
    "DEFAULT_SCALE_FACTORS",
    "EXTRAPOLATIONS",
    "MAX_SCALE_FACTOR",
    "MAX_SCALE_FACTORS",
    "ZNE_OPTIONS",
    "ReadoutReport",
    "ZneSettings",
    "correct_readout",
    "correct_readout_from_matrices",
    "corrected",
    "extrapolate",
    "fold_global",
    "folded_circuits",
    "with_shot_noise",
    "measured_qubits",
    "zne_metadata",
    "zne_settings",
]

"""haiqu-sdk submits (`POST /flow` programs, legacy `POST /run`) as qorch run requests.

A program is a list of layers: `input` first, `device` or `statevector` last. qorch honours the
layers it can run on its engine and refuses every other one with a 422 naming the layer, so a
program is never half-ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qorch.domain.requests import RunRequest
from qorch.http.errors import ApiError

STATEVECTOR_DEVICE = "aer_simulator"
TRANSPILER_OPTIONS = ("optimization_level", "seed_transpiler")
"""TranspilationLayer fields qorch passes to the simulators; any other one set is refused."""
MITIGATION_LAYERS = ("estimator", "distribution_mitigation")


class FlowSubmit(BaseModel):
    """The haiqu-sdk's HybridSubmitModel."""

    model_config = ConfigDict(extra="ignore")

    experiment_id: str
    name: str | None = ""
    description: str | None = ""
    program: dict[str, Any]
    circuit_ids: list[str] = Field(min_length=1)
    shots: int = Field(1000, ge=1)
    parameters: list[Any] | None = None
    observables: list[Any] | None = None
    readout_bases: list[str] | None = None
    device_credentials: dict[str, str | None] = Field(default_factory=dict)
    dry_run: bool = False


class LegacyRunSubmit(BaseModel):
    """The haiqu-sdk's RunSubmitModel (`haiqu.legacy.run`)."""

    model_config = ConfigDict(extra="ignore")

    experiment_id: str
    circuit_ids: list[str] | None = None
    parameters: list[Any] | None = None
    shots: int = Field(1024, ge=1)
    observables: list[Any] | None = None
    readout_bases: list[str] | None = None
    device_id: str | None = ""
    options: dict[str, Any] | None = None
    use_mitigation: bool | None = False
    name: str | None = ""
    description: str | None = ""
    dry_run: bool | None = False
    run_type: str | None = "Run"


def unsupported(field: str, what: str) -> ApiError:
    return ApiError(422, "unsupported", f"{what} is not supported by this qorch server", field)


def refuse_readout_bases(bases: list[str] | None) -> None:
    if bases is not None:
        raise unsupported("readout_bases", "readout in other Pauli bases (readout_bases)")


def run_from_flow(body: FlowSubmit) -> RunRequest:
    layers = body.program.get("layers")
    if body.program.get("schema_version", 1) != 1:
        raise ApiError(422, "invalid_request", "must be 1", "program.schema_version")
    if not isinstance(layers, list) or len(layers) < 2:
        raise ApiError(422, "invalid_request", "needs an input and a final layer", "program.layers")
    kinds = [layer.get("type") if isinstance(layer, dict) else None for layer in layers]
    if kinds[0] != "input":
        raise ApiError(422, "invalid_request", "the first layer must be input", "program.layers")
    if kinds[-1] not in ("device", "statevector"):
        raise ApiError(
            422, "invalid_request", "the last layer must be device or statevector", "program.layers"
        )
    refuse_readout_bases(body.readout_bases)
    options: dict[str, Any] = {}
    use_mitigation = False
    for index, layer in enumerate(layers[1:-1], start=1):
        field = f"program.layers[{index}]"
        kind = kinds[index]
        if kind == "transpilation":
            options.update(_transpiler_options(layer, field))
        elif kind in MITIGATION_LAYERS:
            use_mitigation = bool(layer.get("mitigation_enabled", kind != "estimator"))
        else:
            raise unsupported(f"{field}.type", f"the {kind!r} layer")
    last = layers[-1]
    if kinds[-1] == "statevector":
        device_id, run_type = STATEVECTOR_DEVICE, "StatevectorRun"
        if use_mitigation:
            raise unsupported("program.layers", "error mitigation with a statevector layer")
    else:
        device_id, run_type = str(last.get("device_id") or ""), "Run"
        if last.get("auto_quality"):
            raise unsupported(f"program.layers[{len(layers) - 1}].auto_quality", "auto_quality")
        device_options = last.get("options") or {}
        if not isinstance(device_options, dict):
            raise ApiError(
                422, "invalid_request", "must be an object", f"program.layers[{len(layers) - 1}]"
            )
        options.update(device_options)
    options.update({k: v for k, v in body.device_credentials.items() if v is not None})
    return RunRequest(
        experiment_id=body.experiment_id,
        circuit_ids=body.circuit_ids,
        device_id=device_id,
        shots=body.shots,
        parameters=body.parameters,
        observables=body.observables,
        options=options,
        use_mitigation=use_mitigation,
        name=body.name or "",
        description=body.description or "",
        dry_run=body.dry_run,
        run_type=run_type,
    )


def run_from_legacy(body: LegacyRunSubmit) -> RunRequest:
    refuse_readout_bases(body.readout_bases)
    options = dict(body.options or {})
    if options.pop("use_packing", False):
        raise unsupported("options.use_packing", "circuit packing")
    if options.pop("pack_size", None) is not None:
        raise unsupported("options.pack_size", "circuit packing")
    return RunRequest(
        experiment_id=body.experiment_id,
        circuit_ids=body.circuit_ids or [],
        device_id=body.device_id or "",
        shots=body.shots,
        parameters=body.parameters,
        observables=body.observables,
        options=options,
        use_mitigation=bool(body.use_mitigation),
        name=body.name or "",
        description=body.description or "",
        dry_run=bool(body.dry_run),
        run_type=body.run_type or "Run",
    )


def _transpiler_options(layer: dict[str, Any], field: str) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for name, value in layer.items():
        if name == "type" or value is None:
            continue
        if name not in TRANSPILER_OPTIONS:
            raise unsupported(f"{field}.{name}", f"the transpilation option {name!r}")
        chosen[name] = value
    return chosen


def program_of(request: RunRequest) -> dict[str, Any]:
    """The program a job without one (a legacy run, an /ai/... submit) amounts to."""
    if request.run_type == "StatevectorRun":
        final: dict[str, Any] = {"type": "statevector"}
    else:
        final = {"type": "device", "device_id": request.device_id, "options": {}}
    return {"schema_version": 1, "layers": [{"type": "input"}, final]}

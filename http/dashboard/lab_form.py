"""The Lab's run form as data: what the user typed (kept as text, to show it again), read into
the body of a run request (`RunCircuitsRequest`, the same as REST's), and filled from a job to
run it again.

Provider credentials are no part of it: they travel beside it from the password fields into
the request's `options` and are never shown again. The options field refuses them, so that a
credential is never echoed back in its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from qorch.domain.devices import Device
from qorch.domain.errors import RequestError
from qorch.domain.requests import CREDENTIAL_OPTIONS, RUN_TYPES, SECRET_LOOKING, split_credentials
from qorch.http.dashboard.lab_text import (
    observables_text,
    parameters_text,
    parse_observables,
    parse_parameters,
)

CREDENTIAL_PREFIX = "credential_"
DEFAULT_DEVICE = "aer_simulator"
FORM_FIELDS = {
    "circuit_ids": "circuits",
    "circuits": "circuits",
    "circuits_qasm": "circuits",
    "device_id": "device_id",
    "shots": "shots",
    "run_type": "run_type",
    "parameters": "parameters",
    "observables": "observables",
    "options": "options",
    "use_mitigation": "use_mitigation",
    "name": "name",
    "description": "description",
    "experiment_id": "circuits",
}
"""The form field where an error about a request field is shown."""


@dataclass
class LabForm:
    experiment_id: str
    circuit_ids: list[str] = field(default_factory=list)
    device_id: str = DEFAULT_DEVICE
    shots: str = "1024"
    run_type: str = "Run"
    parameters: str = ""
    observables: str = ""
    options: str = ""
    use_mitigation: bool = False
    name: str = ""
    description: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, list[str]]) -> LabForm:
        def one(name: str, default: str = "") -> str:
            return (fields.get(name) or [default])[0]

        return cls(
            experiment_id=one("experiment_id").strip(),
            circuit_ids=[cid.strip() for cid in fields.get("circuit_ids", []) if cid.strip()],
            device_id=one("device_id", DEFAULT_DEVICE).strip(),
            shots=one("shots", "1024").strip(),
            run_type=one("run_type", "Run"),
            parameters=one("parameters"),
            observables=one("observables"),
            options=one("options"),
            use_mitigation=one("use_mitigation") == "on",
            name=one("name"),
            description=one("description"),
        )

    @classmethod
    def from_job(
        cls, job: dict[str, Any], inputs: dict[str, Any], parameters: dict[str, list[str]]
    ) -> LabForm:
        """The form that runs `job` again (its recorded options hold no credentials)."""
        circuit_ids = list(job.get("circuit_ids") or [])
        names = [parameters.get(cid, []) for cid in circuit_ids]
        return cls(
            experiment_id=job["experiment_id"],
            circuit_ids=circuit_ids,
            device_id=job["device_id"],
            shots=str(job.get("shots") or 1024),
            run_type=job.get("run_type") or "Run",
            parameters=parameters_text(inputs.get("parameters"), names),
            observables=observables_text(inputs.get("observables")),
            options=json.dumps(job["options"], indent=1) if job.get("options") else "",
            use_mitigation=bool(job.get("use_mitigation")),
            name=job.get("name") or "",
            description=job.get("description") or "",
        )

    def shown(self) -> LabForm:
        """The form as it may be shown again: options text that names a credential is
        dropped (its value could be in it)."""
        if holds_credentials(self.options):
            return LabForm(**{**self.__dict__, "options": ""})
        return self

    def request_body(
        self,
        parameters_of: list[list[str]],
        credentials: dict[str, str],
        dry_run: bool,
    ) -> dict[str, Any]:
        """The run request's body; `parameters_of` are the chosen circuits' parameter names.
        Raises RequestError naming the field."""
        if not self.circuit_ids:
            raise RequestError("circuit_ids", "choose at least one circuit")
        try:
            shots = int(self.shots)
        except ValueError:
            raise RequestError("shots", "must be a whole number") from None
        if self.run_type not in RUN_TYPES:
            raise RequestError("run_type", f"must be one of {', '.join(RUN_TYPES)}")
        options = self._options()
        return {
            "experiment_id": self.experiment_id,
            "circuit_ids": self.circuit_ids,
            "device_id": self.device_id,
            "shots": shots,
            "run_type": self.run_type,
            "parameters": parse_parameters(self.parameters, parameters_of),
            "observables": parse_observables(self.observables, len(self.circuit_ids)),
            "options": options if dry_run else {**options, **credentials},
            "use_mitigation": self.use_mitigation,
            "name": self.name,
            "description": self.description,
            "dry_run": dry_run,
        }

    def _options(self) -> dict[str, Any]:
        text = self.options.strip()
        if not text:
            return {}
        if holds_credentials(text):
            raise RequestError(
                "options",
                "holds a credential: type credentials in the credential fields below, which "
                "are sent with the run and never stored or shown",
            )
        try:
            options = json.loads(text)
        except ValueError as error:
            raise RequestError("options", f"is not valid JSON: {error}") from None
        if not isinstance(options, dict):
            raise RequestError("options", 'must be a JSON object, e.g. {"seed_simulator": 7}')
        return options


def holds_credentials(text: str) -> bool:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return bool(split_credentials(parsed)[1])
    return any(name in text for name in CREDENTIAL_OPTIONS) or bool(SECRET_LOOKING.search(text))


def credential_fields(devices: Iterable[Device]) -> dict[str, list[str]]:
    """Per provider, the credential option names its devices need, then the optional ones of
    the same family (e.g. aws_session_token beside aws_access_key_id)."""
    groups: dict[str, list[str]] = {}
    for device in devices:
        names = groups.setdefault(device.provider, [])
        names.extend(name for name in device.credentials if name not in names)
    for names in groups.values():
        families = {name.split("_")[0] for name in names}
        names.extend(
            sorted(
                name
                for name in CREDENTIAL_OPTIONS
                if name.split("_")[0] in families and name not in names
            )
        )
    return {provider: names for provider, names in groups.items() if names}


def credentials_from(fields: dict[str, list[str]], device: Device | None) -> dict[str, str]:
    """The credentials typed for the chosen device's provider family; empty fields left out."""
    if device is None:
        return {}
    allowed = credential_fields([device]).get(device.provider, [])
    typed = {name: (fields.get(CREDENTIAL_PREFIX + name) or [""])[0].strip() for name in allowed}
    return {name: value for name, value in typed.items() if value}


def form_field(request_field: str | None) -> str:
    """The form field an error about `request_field` (e.g. `observables[0][1]`,
    `options.ionq_api_key`) is shown at."""
    if not request_field:
        return "form"
    head = request_field.split("[")[0].split(".")[0]
    if head == "options" and request_field.partition(".")[2] in CREDENTIAL_OPTIONS:
        return "credentials"
    return FORM_FIELDS.get(head, "form")

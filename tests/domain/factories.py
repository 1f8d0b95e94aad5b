"""A run request as the Job aggregate records it, for tests that need a job and nothing else."""

from __future__ import annotations

from uuid import uuid4

from qorch.domain.job import Job


def a_job(**overrides: object) -> Job:
    """A small sampler job on the local simulator; any field can be overridden."""
    request: dict[str, object] = {
        "user_id": uuid4(),
        "experiment_id": uuid4(),
        "name": "bell",
        "description": "",
        "circuit_ids": [uuid4()],
        "device_id": "aer_simulator",
        "shots": 100,
        "run_type": "sampler",
        "inputs_json": Job.encode_inputs(None, None),
        "has_parameters": False,
        "has_observables": False,
        "options_json": '{"seed":7}',
        "credentials_supplied": [],
        "use_mitigation": False,
        "dry_run": False,
    }
    return Job(**{**request, **overrides})  # type: ignore[arg-type]

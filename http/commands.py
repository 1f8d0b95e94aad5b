"""The commands behind every entrypoint (REST, /ai, the haiqu-sdk routes, MCP tools, dashboard
forms): one async function each, taking the service and the caller. The only module that changes
the application; the entrypoints translate a request into a call here and its answer into theirs.

Each command waits for the read models to show what it recorded (read-your-writes), and submits
and uploads pass the caller's admission first (http/admission.py: 429 past their caps).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import anyio

from qorch.bootstrap import Service
from qorch.domain.application import Recorded, Submit
from qorch.domain.requests import RunRequest
from qorch.domain.submission import SdkView
from qorch.domain.user import User
from qorch.http import queries
from qorch.http.admission import admit_submit, admit_upload
from qorch.http.queries import await_recorded
from qorch.http.schemas import AnalyticsRequest, RunCircuitsRequest

log = logging.getLogger("qorch.http")
DEFAULT_LOCAL_USER = "local"


# --- jobs ---


async def submit_job(
    service: Service,
    user: User,
    run: RunRequest,
    submit: Submit | None = None,
    sdk_view: SdkView | None = None,
) -> tuple[Recorded, bool]:
    """Records a job; with `submit`, a repeat of an earlier submit answers the first job (and
    True), and opens no job, so it passes without admission."""
    if submit is None:
        await admit_submit(service, user.id)
        return await anyio.to_thread.run_sync(service.app.submit_job, user.id, run), False
    if not await anyio.to_thread.run_sync(service.app.is_repeat, user.id, submit):
        await admit_submit(service, user.id)
    return await anyio.to_thread.run_sync(
        service.app.submit_job_once, user.id, run, submit, sdk_view
    )


async def submit_run(
    service: Service, user: User, body: RunCircuitsRequest, idempotency_key: str = ""
) -> dict[str, Any]:
    """Submits a run and answers the job; with an idempotency key, the same key and body answer
    the first job."""
    # Fields as they are (no model_dump): a sweep's values are not copied once more.
    run = RunRequest(**{name: getattr(body, name) for name in RunCircuitsRequest.model_fields})
    submit = None
    if idempotency_key:
        submit = Submit(
            key="explicit:" + idempotency_key,
            fingerprint=hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
            now=time.time(),
        )
    recorded, _ = await submit_job(service, user, run, submit)
    if not await await_recorded(service, recorded.position):
        return recorded_but_not_yet_visible(str(recorded.id), run)
    # The caller just sent its parameters and observables: they are not echoed back.
    return await queries.job(service, user, str(recorded.id), include_inputs=False)


def recorded_but_not_yet_visible(job_id: str, run: RunRequest) -> dict[str, Any]:
    """The answer to a recorded submit while the read models lag: never an error, since a
    client retrying a failed POST would submit the job twice."""
    return {
        "id": job_id,
        "status": "Submitted",
        "experiment_id": run.experiment_id,
        "device_id": run.device_id,
        "run_type": run.run_type,
        "shots": run.shots,
        "dry_run": run.dry_run,
        "circuit_ids": list(run.circuit_ids or []),
        "has_parameters": run.parameters is not None,
        "has_observables": run.observables is not None,
    }


async def restart_job(
    service: Service, user: User, job_id: str, credentials: dict[str, Any]
) -> Recorded:
    """Runs a finished job again under the same id; it opens a job again: the same caps."""
    await admit_submit(service, user.id)
    return await anyio.to_thread.run_sync(service.app.restart_job, user.id, job_id, credentials)


async def cancel_job(service: Service, user: User, job_id: str) -> None:
    recorded = await anyio.to_thread.run_sync(service.app.cancel_job, user.id, job_id)
    await await_recorded(service, recorded.position)


# --- circuits and experiments ---


async def store_circuit(
    service: Service, user: User, experiment_id: str, source: str, name: str, key: str = ""
) -> dict[str, Any]:
    """Stores a circuit (once per text, or per the client's own `key`) and answers its doc."""
    await admit_upload(service, user.id)
    if key:
        store = service.app.store_circuit_keyed
        circuit, recorded = await anyio.to_thread.run_sync(
            store, user.id, experiment_id, source, name, key
        )
    else:
        circuit, recorded = await anyio.to_thread.run_sync(
            service.app.store_circuit, user.id, experiment_id, source, name
        )
    if recorded is not None:
        await await_recorded(service, recorded.position)
    return queries.circuit(service, user, str(circuit.id))


async def analyse_circuit(service: Service, user: User, body: AnalyticsRequest) -> dict[str, Any]:
    return await store_circuit(service, user, body.experiment_id, body.circuit_qasm, body.name)


async def create_experiment(
    service: Service, user: User, name: Any, description: Any = "", tags: list[Any] | None = None
) -> dict[str, Any]:
    recorded = await anyio.to_thread.run_sync(
        service.app.create_experiment, user.id, name, description, tags or []
    )
    await await_recorded(service, recorded.position)
    return queries.experiment(service, user, str(recorded.id))


async def update_experiment(
    service: Service, user: User, experiment_id: str, name: Any, description: Any, tags: list[Any]
) -> dict[str, Any]:
    recorded = await anyio.to_thread.run_sync(
        service.app.update_experiment, user.id, experiment_id, name, description, tags
    )
    await await_recorded(service, recorded.position)
    return queries.experiment(service, user, experiment_id)


# --- users ---


async def end_session(service: Service, user: User, session_id: str) -> None:
    """Signs a dashboard session out in the event log: a copy of its cookie is dead too."""
    await anyio.to_thread.run_sync(service.app.end_session, user.id, session_id)


class UnknownKey(Exception):
    """The API key given to `qorch mcp` belongs to no user."""


def local_user(service: Service, key: str | None, name: str | None) -> User:
    """The user a stdio MCP server acts as: the key's holder, else the first user with that
    name, registered when there is none (whoever runs it can read the data directory anyway)."""
    app = service.app
    if key:
        user = app.authenticate(key)
        if user is None:
            raise UnknownKey("the API key given to qorch mcp (--key or QORCH_API_KEY) is not valid")
        return user
    name = name or DEFAULT_LOCAL_USER
    found = next(iter(app.users_named(name)), None)
    if found is not None:
        return found
    user_id, new_key = app.register_user(name)
    log.warning("created user %r (%s); its API key, shown once: %s", name, user_id, new_key)
    user = app.authenticate(new_key)
    assert user is not None
    return user

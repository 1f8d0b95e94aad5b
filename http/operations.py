"""The operations behind both entrypoints, HTTP routes and MCP tools: one async function per
command or read, taking the service, the caller's id and an already validated wire model.

Each answers the read-model document of what it touched, after the projection has caught up
with the write (read-your-writes), so both entrypoints present the same thing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any
from uuid import UUID

import anyio

from qorch.domain.application import Submit
from qorch.domain.devices import Device
from qorch.domain.errors import NotFound
from qorch.domain.execution import ProviderError
from qorch.domain.requests import RunRequest, check_credential_values, split_credentials
from qorch.http.admission import admit_submit, admit_upload
from qorch.http.presenters import page_results
from qorch.http.reads import await_recorded, read_job
from qorch.http.schemas import (
    AnalyticsRequest,
    CreateExperimentRequest,
    DeviceQuery,
    ExperimentsQuery,
    JobQuery,
    JobsQuery,
    RunCircuitsRequest,
)
from qorch.projections import circuits, experiments, jobs
from qorch.service import Service
from qorch.settings import provider_config

log = logging.getLogger("qorch.http")


async def submit_run(
    service: Service, user_id: UUID, body: RunCircuitsRequest, idempotency_key: str = ""
) -> dict[str, Any]:
    """Submits a run; with an idempotency key, the same key and body answer the first job.
    Refused with 429 past the user's submit rate or open-job cap (http/admission.py)."""
    # Fields as they are (no model_dump): a sweep's values are not copied once more.
    run = RunRequest(**{name: getattr(body, name) for name in RunCircuitsRequest.model_fields})
    if idempotency_key:
        submit = Submit(
            key="explicit:" + idempotency_key,
            fingerprint=hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
            now=time.time(),
        )
        if not await anyio.to_thread.run_sync(service.app.is_repeat, user_id, submit):
            await admit_submit(service, user_id)
        recorded, _ = await anyio.to_thread.run_sync(
            service.app.submit_job_once, user_id, run, submit
        )
    else:
        await admit_submit(service, user_id)
        recorded = await anyio.to_thread.run_sync(service.app.submit_job, user_id, run)
    if not await await_recorded(service, recorded.position):
        return recorded_but_not_yet_visible(str(recorded.id), run)
    # The caller just sent its parameters and observables: they are not echoed back.
    return await read_job(service, user_id, str(recorded.id), include_inputs=False)


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


async def job_status(service: Service, user_id: UUID, query: JobQuery) -> dict[str, Any]:
    job = await read_job(
        service, user_id, query.job_id, query.wait, include_inputs=query.include_inputs
    )
    if query.circuit_offset or query.circuit_limit is not None:
        job = page_results(job, query.circuit_offset, query.circuit_limit)
    return job


async def cancel_job(service: Service, user_id: UUID, job_id: str) -> dict[str, Any]:
    recorded = await anyio.to_thread.run_sync(service.app.cancel_job, user_id, job_id)
    await await_recorded(service, recorded.position)
    return await read_job(service, user_id, job_id)


def list_jobs(service: Service, user_id: UUID, query: JobsQuery) -> list[dict[str, Any]]:
    return jobs.list_jobs(
        service.views.connection(),
        str(user_id),
        experiment_id=query.experiment_id,
        status=query.status,
        device_id=query.device_id,
        limit=query.limit,
        offset=query.offset,
    )


async def list_devices(service: Service, query: DeviceQuery | None = None) -> list[dict[str, Any]]:
    """All devices; with `query.device_id`, that one alone (NotFound when there is none).

    With credentials in `query.options`, the devices of those providers carry their live status
    and queue length (`live`), asked of each provider concurrently within the call timeout.
    """
    listed = service.catalogue.list()
    if query is not None and query.device_id is not None:
        listed = [device for device in listed if device.id == query.device_id]
        if not listed:
            raise NotFound("device", query.device_id)
    devices = [device.as_dict() for device in listed]
    _, credentials = split_credentials(query.options if query is not None else {})
    if credentials:
        check_credential_values(credentials)
        live = await live_status(service, listed, credentials)
        for device in devices:
            if device["id"] in live:
                device["live"] = live[device["id"]]
    return devices


async def live_status(
    service: Service, devices: list[Device], credentials: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    by_provider: dict[str, list[Device]] = {}
    for device in devices:
        if device.remote and all(name in credentials for name in device.credentials):
            by_provider.setdefault(device.provider, []).append(device)
    config = provider_config(service.settings)
    found: dict[str, dict[str, Any]] = {}

    async def ask(provider: str, chosen: list[Device]) -> None:
        try:
            with anyio.fail_after(config.call_timeout):
                status = await anyio.to_thread.run_sync(
                    service.catalogue.registry.provider(provider).live_status,
                    chosen,
                    credentials,
                    abandon_on_cancel=True,
                )
        except TimeoutError:
            error = {"code": "provider_timeout", "message": "the provider did not answer in time"}
            status = {device.id: {"error": error} for device in chosen}
        except ProviderError as failure:
            status = {device.id: {"error": failure.as_dict()} for device in chosen}
        except Exception as failure:  # a listing never fails because one provider did
            log.error("live status of %s failed: %s", provider, type(failure).__name__)
            error = {"code": "provider_failed", "message": type(failure).__name__}
            status = {device.id: {"error": error} for device in chosen}
        found.update(status)

    async with anyio.create_task_group() as tg:
        for provider, chosen in by_provider.items():
            tg.start_soon(ask, provider, chosen)
    return found


async def analyse_circuit(
    service: Service, user_id: UUID, body: AnalyticsRequest
) -> dict[str, Any]:
    await admit_upload(service, user_id)
    circuit, recorded = await anyio.to_thread.run_sync(
        service.app.store_circuit, user_id, body.experiment_id, body.circuit_qasm, body.name
    )
    if recorded is not None:
        await await_recorded(service, recorded.position)
    doc = circuits.get_circuit(service.views.connection(), str(user_id), str(circuit.id))
    assert doc is not None
    return doc


async def create_experiment(
    service: Service, user_id: UUID, body: CreateExperimentRequest
) -> dict[str, Any]:
    recorded = await anyio.to_thread.run_sync(
        service.app.create_experiment, user_id, body.name, body.description, body.tags
    )
    await await_recorded(service, recorded.position)
    doc = experiments.get_experiment(service.views.connection(), str(user_id), str(recorded.id))
    assert doc is not None
    return doc


def list_experiments(
    service: Service, user_id: UUID, query: ExperimentsQuery
) -> list[dict[str, Any]]:
    return experiments.list_experiments(
        service.views.connection(), str(user_id), query.limit, query.offset
    )

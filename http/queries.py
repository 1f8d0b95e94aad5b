"""The reads behind every entrypoint, served from the read models with read-your-writes and
long-polling: each takes the service and the caller and answers a read-model document; what is
not the caller's is NotFound.

Results and parameter sweeps can be large: the read of a final job (or of a job's inputs) and its
presentation run in a worker thread, and the event loop reads only the light job document (which
answers a job still under way without the thread's hop), so the event loop (and every other
client) never waits on a big JSON document.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from pydantic_core import to_json

from qorch import __version__
from qorch.bootstrap import Service
from qorch.domain.devices import Device
from qorch.domain.errors import NotFound
from qorch.domain.execution import ProviderError
from qorch.domain.requests import check_credential_values, split_credentials
from qorch.domain.user import User
from qorch.http.audit import job_events as audited
from qorch.http.dashboard.session import Session
from qorch.http.presenters import job_json as job_json_text
from qorch.http.presenters import page_results, present_job
from qorch.http.schemas import DeviceQuery, JobQuery, JobsQuery, Page
from qorch.projections import circuits, experiments, jobs
from qorch.projections.projector import set_aside_events

T = TypeVar("T")

log = logging.getLogger("qorch.http")
MAX_WAIT_SECONDS = 300.0
RECORDED_WAIT_SECONDS = 30.0


async def await_recorded(service: Service, position: int) -> bool:
    """Waits until the read models show a write; False if they lag behind for too long."""
    return await service.projector.wait_for_position(position, RECORDED_WAIT_SECONDS)


# --- who is calling ---


async def user_with_key(service: Service, key: str) -> User | None:
    return await anyio.to_thread.run_sync(service.app.authenticate, key) if key else None


async def session_user(service: Service, session: Session) -> User | None:
    """The user of a signed dashboard session their record still accepts (not signed out, key
    neither replaced nor revoked; checked in the event log, so a sign-out in any API process
    counts in all of them)."""
    return await anyio.to_thread.run_sync(
        service.app.session_user, session.user_id, session.session_id, session.key_generation
    )


# --- jobs ---


async def job(
    service: Service, user: User, job_id: str, wait: float = 0.0, *, include_inputs: bool = True
) -> dict[str, Any]:
    """The job as the client sees it; waits up to `wait` seconds for a final status."""
    return await _answer(service, user, job_id, wait, include_inputs, _present, present_job)


async def job_json(
    service: Service, user: User, job_id: str, wait: float = 0.0, *, include_inputs: bool = True
) -> bytes:
    """`job` encoded as JSON, its results copied as they were recorded (never parsed)."""
    return await _answer(service, user, job_id, wait, include_inputs, _present_json, job_json_text)


async def _answer(
    service: Service,
    user: User,
    job_id: str,
    wait: float,
    include_inputs: bool,
    in_thread: Callable[[Service, str, str, bool], T],
    on_loop: Callable[[dict[str, Any], None], T],
) -> T:
    """A job still under way is answered from its light document, here on the event loop;
    what may be large (results, inputs) is read in a worker thread."""
    doc = await _wait_until_final(service, user, job_id, wait)
    if doc["status"] in jobs.FINAL or include_inputs:
        return await anyio.to_thread.run_sync(
            in_thread, service, str(user.id), job_id, include_inputs
        )
    return on_loop(doc, None)


async def _wait_until_final(
    service: Service, user: User, job_id: str, wait: float
) -> dict[str, Any]:
    """The light job document, once final or `wait` seconds on; what may be large (results,
    inputs) is read afterwards in a worker thread."""
    deadline = time.monotonic() + min(wait, MAX_WAIT_SECONDS)
    while True:
        doc = jobs.get_job(service.views.connection(), str(user.id), job_id, with_inputs=False)
        if doc is None:
            raise NotFound("job", job_id)
        remaining = deadline - time.monotonic()
        if doc["status"] in jobs.FINAL or remaining <= 0:
            return doc
        await service.projector.wait_for_change(remaining)


def _present(service: Service, user_id: str, job_id: str, include_inputs: bool) -> dict[str, Any]:
    db = service.views.connection()
    doc = _job_doc(db, user_id, job_id, include_inputs)
    results = jobs.get_results(db, job_id) if doc["status"] in jobs.FINAL else None
    return present_job(doc, results)


def _present_json(service: Service, user_id: str, job_id: str, include_inputs: bool) -> bytes:
    db = service.views.connection()
    doc = _job_doc(db, user_id, job_id, include_inputs)
    results = jobs.get_results_json(db, job_id) if doc["status"] in jobs.FINAL else None
    return job_json_text(doc, results)


def _job_doc(db: Any, user_id: str, job_id: str, include_inputs: bool) -> dict[str, Any]:
    doc = jobs.get_job(db, user_id, job_id, with_inputs=include_inputs)
    if doc is None:
        raise NotFound("job", job_id)
    return doc


async def job_status(service: Service, user: User, query: JobQuery) -> dict[str, Any]:
    """The job, with only a page of its circuits' results when the query asks for one."""
    found = await job(service, user, query.job_id, query.wait, include_inputs=query.include_inputs)
    if _paged(query):
        found = page_results(found, query.circuit_offset, query.circuit_limit)
    return found


async def job_status_json(service: Service, user: User, query: JobQuery) -> bytes:
    """`job_status` encoded as JSON; an unpaged job's results are copied as recorded."""
    if _paged(query):
        return to_json(await job_status(service, user, query))
    return await job_json(
        service, user, query.job_id, query.wait, include_inputs=query.include_inputs
    )


def _paged(query: JobQuery) -> bool:
    return bool(query.circuit_offset) or query.circuit_limit is not None


def job_list(service: Service, user: User, query: JobsQuery) -> list[dict[str, Any]]:
    listed = jobs.list_jobs(
        service.views.connection(),
        str(user.id),
        experiment_id=query.experiment_id,
        status=query.status,
        device_id=query.device_id,
        limit=query.limit,
        offset=query.offset,
    )
    for doc in listed:  # documents projected before partial results existed lack these
        doc.setdefault("partial", False)
        doc.setdefault("failed_executions", 0)
    return listed


async def job_events(service: Service, user: User, job_id: str) -> list[dict[str, Any]]:
    """The job's audit log, read from the event log itself (always complete)."""
    return await anyio.to_thread.run_sync(audited, service.app, user.id, job_id)


# --- experiments and circuits ---


def experiment_list(service: Service, user: User, page: Page) -> list[dict[str, Any]]:
    return experiments.list_experiments(
        service.views.connection(), str(user.id), page.limit, page.offset
    )


def experiment(service: Service, user: User, experiment_id: str) -> dict[str, Any]:
    doc = experiments.get_experiment(service.views.connection(), str(user.id), experiment_id)
    if doc is None:
        raise NotFound("experiment", experiment_id)
    return doc


def circuit_list(
    service: Service, user: User, experiment_id: str, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    """An experiment's circuits (NotFound when the experiment is not the caller's)."""
    experiment(service, user, experiment_id)
    return circuits.list_circuits(
        service.views.connection(), str(user.id), experiment_id, limit, offset
    )


def circuit(service: Service, user: User, circuit_id: str) -> dict[str, Any]:
    doc = circuits.get_circuit(service.views.connection(), str(user.id), circuit_id)
    if doc is None:
        raise NotFound("circuit", circuit_id)
    return doc


# --- devices ---


async def devices(service: Service, query: DeviceQuery | None = None) -> list[dict[str, Any]]:
    """All devices; with `query.device_id`, that one alone (NotFound when there is none).

    With credentials in `query.options`, the devices of those providers carry their live status
    and queue length (`live`), asked of each provider concurrently within the call timeout.
    """
    listed = service.catalogue.list()
    if query is not None and query.device_id is not None:
        listed = [device for device in listed if device.id == query.device_id]
        if not listed:
            raise NotFound("device", query.device_id)
    found = [device.as_dict() for device in listed]
    _, credentials = split_credentials(query.options if query is not None else {})
    if credentials:
        check_credential_values(credentials)
        live = await live_status(service, listed, credentials)
        for device in found:
            if device["id"] in live:
                device["live"] = live[device["id"]]
    return found


def device(service: Service, device_id: str) -> dict[str, Any]:
    found = service.catalogue.find(device_id)
    if found is None:
        raise NotFound("device", device_id)
    return found.as_dict()


async def live_status(
    service: Service, listed: list[Device], credentials: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    by_provider: dict[str, list[Device]] = {}
    for one in listed:
        if one.remote and all(name in credentials for name in one.credentials):
            by_provider.setdefault(one.provider, []).append(one)
    timeout = service.registry.config.call_timeout
    found: dict[str, dict[str, Any]] = {}

    async def ask(provider: str, chosen: list[Device]) -> None:
        try:
            with anyio.fail_after(timeout):
                status = await anyio.to_thread.run_sync(
                    service.catalogue.registry.provider(provider).live_status,
                    chosen,
                    credentials,
                    abandon_on_cancel=True,
                )
        except TimeoutError:
            error = {"code": "provider_timeout", "message": "the provider did not answer in time"}
            status = {one.id: {"error": error} for one in chosen}
        except ProviderError as failure:
            status = {one.id: {"error": failure.as_dict()} for one in chosen}
        except Exception as failure:  # a listing never fails because one provider did
            log.error("live status of %s failed: %s", provider, type(failure).__name__)
            error = {"code": "provider_failed", "message": type(failure).__name__}
            status = {one.id: {"error": error} for one in chosen}
        found.update(status)

    async with anyio.create_task_group() as tg:
        for provider, chosen in by_provider.items():
            tg.start_soon(ask, provider, chosen)
    return found


# --- the service ---


def health(service: Service) -> dict[str, Any]:
    """`degraded` while some recorded event could not be applied: it was set aside (logged with
    its position) and everything else goes on; an operator repairs it."""
    set_aside = [event["position"] for event in set_aside_events(service.views.connection())]
    return {
        "status": "degraded" if set_aside else "ok",
        "version": __version__,
        "log_position": service.projector.position,
        "set_aside_events": set_aside[:100],
    }

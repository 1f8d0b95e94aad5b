"""The asyncio client: the same calls as `Client`, awaited (`async with AsyncClient() as q`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from functools import cached_property
from typing import Any

import anyio
import httpx

from qorch.client import wire
from qorch.client.errors import ConnectionFailed, StreamUnavailable, WaitTimeout

Job = dict[str, Any]
OnStatus = Callable[[Job], Awaitable[None] | None]


class AsyncClient(wire.Connection[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    def _open(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(**options)

    @cached_property
    def _experiment_lock(self) -> anyio.Lock:
        """Made at the first use, in the event loop: concurrent first submits make one
        experiment."""
        return anyio.Lock()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ConnectionFailed(0, "connection_failed", f"{self.url}: {error}") from error
        return wire.answer(response)

    async def submit(self, body: dict[str, Any], *, idempotency_key: str | None = None) -> Job:
        """Submits a run (the body of POST /ai/run_circuits_on_qpu_or_simulator); the job."""
        if wire.needs_experiment(body):
            body = {**body, "experiment_id": await self.default_experiment()}
        headers = wire.submit_headers(idempotency_key)
        return wire.job_of(await self._call("POST", wire.SUBMIT, json=body, headers=headers))

    async def default_experiment(self) -> str:
        """The id of the caller's experiment named `qorch-client`, created the first time."""
        async with self._experiment_lock:
            offset = 0
            while self._experiment_id is None:
                params = {"limit": wire.EXPERIMENT_PAGE, "offset": offset}
                page = (await self._call("GET", "/experiments", params=params))["experiments"]
                self._experiment_id = wire.experiment_named(page, wire.DEFAULT_EXPERIMENT)
                if self._experiment_id is None and len(page) < wire.EXPERIMENT_PAGE:
                    created = await self._call("POST", "/experiments", json=wire.NEW_EXPERIMENT)
                    self._experiment_id = created["id"]
                offset += wire.EXPERIMENT_PAGE
            return self._experiment_id

    async def job(self, job_id: str, *, wait: float = 0.0, include_inputs: bool = False) -> Job:
        params = wire.query({"wait": wait or None, "include_inputs": include_inputs or None})
        timeout = wire.poll_timeout(self.timeout, wait)
        answered = await self._call("GET", f"/jobs/{job_id}", params=params, timeout=timeout)
        return wire.job_of(answered)

    async def jobs(self, **filters: Any) -> list[Job]:
        """The caller's jobs, newest first (filters: experiment_id, status, device_id, limit,
        offset)."""
        return list((await self._call("GET", "/jobs", params=wire.query(filters)))["jobs"])

    async def cancel(self, job_id: str) -> Job:
        return wire.job_of(await self._call("POST", f"/jobs/{job_id}/cancel"))

    async def devices(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/devices"))["devices"])

    async def wait(
        self, job_id: str, timeout: float | None = None, *, on_status: OnStatus | None = None
    ) -> Job:
        """The job once Done, Error or Cancelled, with its results: followed on the event
        stream, else long-polled. `on_status` (plain or async) sees each state on the way;
        WaitTimeout past `timeout` seconds."""
        deadline = wire.Deadline(timeout)
        job = await self.job(job_id)
        await _notify(on_status, job)
        if not wire.is_final(job) and self._stream:
            try:
                job = await self._wait_on_stream(job_id, deadline, on_status, job)
            except StreamUnavailable:
                self._stream = False
        while not wire.is_final(job):
            if deadline.expired:
                raise WaitTimeout(job, deadline.timeout)
            polled = await self.job(job_id, wait=deadline.poll_wait(on_status is not None))
            if wire.later(polled, job):
                await _notify(on_status, polled)
            job = polled
        return job

    async def _wait_on_stream(
        self, job_id: str, deadline: wire.Deadline, on_status: OnStatus | None, job: Job
    ) -> Job:
        events = self._events(wire.job_stream(job_id), deadline)
        try:
            async for _, seen in events:
                if seen is None:  # (re)connected: the job now, whatever the stream replays
                    seen = await self.job(job_id)
                if not wire.later(seen, job):
                    continue  # replayed from before what was already seen
                job = seen
                await _notify(on_status, job)
                if wire.is_final(job):
                    return await self.job(job_id)
        finally:
            await events.aclose()
        return job

    async def events(
        self, job_id: str | None = None, *, last_event_id: str | None = None
    ) -> AsyncIterator[tuple[str | None, Job]]:
        """(event id, job) for each change of the caller's jobs (or of `job_id`'s), forever,
        reconnecting with Last-Event-ID; StreamUnavailable when the server has no stream."""
        params = wire.query({"job_id": job_id})
        events = self._events(params, wire.Deadline(None), last_event_id)
        try:
            async for event_id, seen in events:
                if seen is not None:
                    yield event_id, seen
        finally:
            await events.aclose()

    async def _events(
        self, params: dict[str, str], deadline: wire.Deadline, last_id: str | None = None
    ) -> AsyncGenerator[tuple[str | None, Job | None]]:
        stream = wire.Stream(params, deadline, last_id, self.timeout)
        while not deadline.expired:
            try:
                async with self._http.stream("GET", wire.EVENTS, **stream.request()) as response:
                    if response.status_code >= 400:
                        await response.aread()
                    yield stream.opened(response)
                    async for line in response.aiter_lines():
                        if deadline.expired:
                            return
                        if (event := stream.feed(line)) is not None:
                            yield event
            except httpx.TransportError as error:
                await anyio.sleep(stream.failed(error))


async def _notify(on_status: OnStatus | None, job: Job) -> None:
    if on_status is not None:
        result = on_status(job)
        if result is not None:
            await result

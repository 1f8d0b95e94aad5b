"""The blocking client: `with Client() as qorch: qorch.wait(qorch.submit({...})["id"])`."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from typing import Any

import httpx

from qorch.client import wire
from qorch.client.errors import ConnectionFailed, StreamUnavailable, WaitTimeout

Job = dict[str, Any]
OnStatus = Callable[[Job], None]


class Client(wire.Connection[httpx.Client, httpx.BaseTransport]):
    def _open(self, **options: Any) -> httpx.Client:
        return httpx.Client(**options)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ConnectionFailed(0, "connection_failed", f"{self.url}: {error}") from error
        return wire.answer(response)

    def submit(self, body: dict[str, Any], *, idempotency_key: str | None = None) -> Job:
        """Submits a run (the body of POST /ai/run_circuits_on_qpu_or_simulator); the job."""
        if wire.needs_experiment(body):
            body = {**body, "experiment_id": self.default_experiment()}
        headers = wire.submit_headers(idempotency_key)
        return wire.job_of(self._call("POST", wire.SUBMIT, json=body, headers=headers))

    def default_experiment(self) -> str:
        """The id of the caller's experiment named `qorch-client`, created the first time."""
        offset = 0
        while self._experiment_id is None:
            params = {"limit": wire.EXPERIMENT_PAGE, "offset": offset}
            page = self._call("GET", "/experiments", params=params)["experiments"]
            self._experiment_id = wire.experiment_named(page, wire.DEFAULT_EXPERIMENT)
            if self._experiment_id is None and len(page) < wire.EXPERIMENT_PAGE:
                created = self._call("POST", "/experiments", json=wire.NEW_EXPERIMENT)
                self._experiment_id = created["id"]
            offset += wire.EXPERIMENT_PAGE
        return self._experiment_id

    def job(self, job_id: str, *, wait: float = 0.0, include_inputs: bool = False) -> Job:
        params = wire.query({"wait": wait or None, "include_inputs": include_inputs or None})
        timeout = wire.poll_timeout(self.timeout, wait)
        return wire.job_of(self._call("GET", f"/jobs/{job_id}", params=params, timeout=timeout))

    def jobs(self, **filters: Any) -> list[Job]:
        """The caller's jobs, newest first (filters: experiment_id, status, device_id, limit,
        offset)."""
        return list(self._call("GET", "/jobs", params=wire.query(filters))["jobs"])

    def cancel(self, job_id: str) -> Job:
        return wire.job_of(self._call("POST", f"/jobs/{job_id}/cancel"))

    def devices(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/devices")["devices"])

    def wait(
        self, job_id: str, timeout: float | None = None, *, on_status: OnStatus | None = None
    ) -> Job:
        """The job once Done, Error or Cancelled, with its results: followed on the event
        stream, else long-polled. `on_status` sees each state on the way; WaitTimeout past
        `timeout` seconds."""
        deadline = wire.Deadline(timeout)
        job = self.job(job_id)
        if on_status:
            on_status(job)
        if not wire.is_final(job) and self._stream:
            try:
                job = self._wait_on_stream(job_id, deadline, on_status, job)
            except StreamUnavailable:
                self._stream = False
        while not wire.is_final(job):
            if deadline.expired:
                raise WaitTimeout(job, deadline.timeout)
            polled = self.job(job_id, wait=deadline.poll_wait(on_status is not None))
            if on_status and wire.later(polled, job):
                on_status(polled)
            job = polled
        return job

    def _wait_on_stream(
        self, job_id: str, deadline: wire.Deadline, on_status: OnStatus | None, job: Job
    ) -> Job:
        with closing(self._events(wire.job_stream(job_id), deadline)) as events:
            for _, seen in events:
                if seen is None:  # (re)connected: the job now, whatever the stream replays
                    seen = self.job(job_id)
                if not wire.later(seen, job):
                    continue  # replayed from before what was already seen
                job = seen
                if on_status:
                    on_status(job)
                if wire.is_final(job):
                    return self.job(job_id)
        return job

    def events(
        self, job_id: str | None = None, *, last_event_id: str | None = None
    ) -> Iterator[tuple[str | None, Job]]:
        """(event id, job) for each change of the caller's jobs (or of `job_id`'s), forever,
        reconnecting with Last-Event-ID; StreamUnavailable when the server has no stream."""
        params = wire.query({"job_id": job_id})
        with closing(self._events(params, wire.Deadline(None), last_event_id)) as events:
            for event_id, seen in events:
                if seen is not None:
                    yield event_id, seen

    def _events(
        self, params: dict[str, str], deadline: wire.Deadline, last_id: str | None = None
    ) -> Generator[tuple[str | None, Job | None]]:
        stream = wire.Stream(params, deadline, last_id, self.timeout)
        while not deadline.expired:
            try:
                with self._http.stream("GET", wire.EVENTS, **stream.request()) as response:
                    if response.status_code >= 400:
                        response.read()
                    yield stream.opened(response)
                    for line in response.iter_lines():
                        if deadline.expired:
                            return
                        if (event := stream.feed(line)) is not None:
                            yield event
            except httpx.TransportError as error:
                time.sleep(stream.failed(error))

"""What the sync and async clients share: paths, headers, answers parsed, events read, time."""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

import httpx

from qorch import __version__
from qorch.client.config import resolve
from qorch.client.errors import StreamUnavailable, error_from

FINAL = frozenset({"Done", "Error", "Cancelled"})
SUBMIT = "/ai/run_circuits_on_qpu_or_simulator"
EVENTS = "/events"
DEFAULT_EXPERIMENT = "qorch-client"
"""Runs submitted without an `experiment_id` go here (created once, then found by name)."""
EXPERIMENT_PAGE = 100
LONG_POLL = 30.0
"""Seconds one long-poll request waits at most (the server's own cap is 300)."""
PROGRESS_POLL = 1.0
"""Long-poll answers only on a final status: a caller following progress asks every second."""
STREAM_IDLE = 30.0
"""Seconds without a byte from the event stream before reconnecting (with Last-Event-ID)."""
STREAM_RETRIES = 3


H = TypeVar("H", httpx.Client, httpx.AsyncClient)
T = TypeVar("T", httpx.BaseTransport, httpx.AsyncBaseTransport)


class Connection(ABC, Generic[H, T]):
    """What a client holds: the server's URL, the timeout of its requests, its HTTP client, the
    caller's default experiment once found, and whether the server has an event stream."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: T | None = None,
    ) -> None:
        config = resolve(url, api_key)
        self.url = config.url
        self.timeout = timeout
        self._http: H = self._open(
            base_url=config.url,
            headers=headers(config.api_key),
            timeout=timeout,
            transport=transport,
        )
        self._experiment_id: str | None = None
        self._stream = True  # until the server shows it has no GET /events

    @abstractmethod
    def _open(self, **options: Any) -> H: ...


def headers(api_key: str) -> dict[str, str]:
    found = {"User-Agent": f"qorch-client/{__version__}"}
    if api_key:
        found["Authorization"] = f"Bearer {api_key}"
    return found


def answer(response: httpx.Response) -> Any:
    """The JSON of a 2xx answer (read); the typed error of any other."""
    if response.status_code >= 400:
        raise error_from(response)
    return response.json()


def job_of(answered: Any) -> dict[str, Any]:
    """The job of an answer: /ai answers wrap it (`{"context", "job"}`), REST answers are it."""
    if isinstance(answered, dict) and isinstance(answered.get("job"), dict):
        return answered["job"]
    if not isinstance(answered, dict):
        raise TypeError(f"expected a job object, got {type(answered).__name__}")
    return answered


def submit_headers(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


def needs_experiment(body: dict[str, Any]) -> bool:
    return not body.get("experiment_id")


def experiment_named(page: list[dict[str, Any]], name: str) -> str | None:
    return next((str(doc["id"]) for doc in page if doc.get("name") == name), None)


NEW_EXPERIMENT = {
    "name": DEFAULT_EXPERIMENT,
    "description": "runs submitted with qorch.client or `qorch run` without an experiment",
}


def query(filters: dict[str, Any]) -> dict[str, str]:
    """Query parameters: None dropped, booleans as true/false."""
    return {
        name: (str(value).lower() if isinstance(value, bool) else str(value))
        for name, value in filters.items()
        if value is not None
    }


def poll_timeout(base: float, wait: float) -> httpx.Timeout:
    """A long-poll request may take `wait` seconds before its first byte."""
    return httpx.Timeout(base, read=base + wait)


def check_stream(response: httpx.Response) -> None:
    """Raises when this answer is not an event stream (call with the body read on errors)."""
    # A route the server lacks answers Starlette's 404 (`http_error`); a job that is not the
    # caller's answers qorch's own 404 (`not_found`), which is an answer, not a missing stream.
    if response.status_code in (404, 405):
        error = error_from(response)
        if error.code == "http_error":
            raise StreamUnavailable(
                response.status_code, "no_event_stream", "the server has no GET /events"
            )
        raise error
    if response.status_code >= 400:
        raise error_from(response)
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        raise StreamUnavailable(0, "no_event_stream", "GET /events did not answer a stream")


class Events:
    """Server-sent events from a stream's lines, as the HTML standard parses them: fed every
    line (keep-alive comments too, so a reader checks its deadline on each), it answers
    (last event id, data) when an event ends."""

    def __init__(self, last_id: str | None = None) -> None:
        self.last_id = last_id
        self.data: list[str] = []

    def feed(self, line: str) -> tuple[str | None, str] | None:
        if not line:
            data, self.data = self.data, []
            return (self.last_id, "\n".join(data)) if data else None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self.data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value or None
        return None


def event_job(data: str, job_id: str | None = None) -> dict[str, Any] | None:
    """The job an event carries (`data:` compact job JSON with `status`), if it is `job_id`'s."""
    try:
        job = json.loads(data) if data else None
    except ValueError:
        return None
    if not isinstance(job, dict) or "status" not in job:
        return None
    seen = job.get("id", job.get("job_id"))
    if job_id is not None and seen is not None and str(seen) != job_id:
        return None
    return job


class Stream:
    """A reader of GET /events across its connections: (last_id, None) on each connection, then
    (id, job) per event, until the deadline; it reconnects after a dropped or idle connection,
    resuming after the last event, and gives up after STREAM_RETRIES failures in a row."""

    def __init__(
        self, params: dict[str, str], deadline: Deadline, last_id: str | None, timeout: float
    ) -> None:
        self.params = params
        self.deadline = deadline
        self.last_id = last_id
        self.timeout = timeout
        self.failures = 0
        self.events = Events(last_id)

    def request(self) -> dict[str, Any]:
        """The arguments of the next connection's `stream("GET", EVENTS, ...)`."""
        return {
            "params": self.params,
            "headers": stream_headers(self.last_id),
            "timeout": self.deadline.stream_timeout(self.timeout),
        }

    def opened(self, response: httpx.Response) -> tuple[str | None, None]:
        """Checks a connection's answer (its body read on errors); what to yield for it."""
        check_stream(response)
        self.failures = 0
        self.events = Events(self.last_id)
        return self.last_id, None

    def feed(self, line: str) -> tuple[str | None, dict[str, Any]] | None:
        """What to yield for a line: the job of an event that ends there, if it is wanted."""
        event = self.events.feed(line)
        self.last_id = self.events.last_id
        seen = event_job(event[1], self.params.get("job_id")) if event else None
        return None if seen is None else (self.last_id, seen)

    def failed(self, error: httpx.TransportError) -> float:
        """Seconds to wait before connecting again: none after an idle connection."""
        if isinstance(error, httpx.ReadTimeout):
            return 0.0
        self.failures += 1
        if self.failures >= STREAM_RETRIES:
            raise StreamUnavailable(0, "stream_failed", str(error)) from error
        return min(self.deadline.left(), 0.5 * self.failures)


def job_stream(job_id: str) -> dict[str, str]:
    """One job's changes from its first (`after=0`): none is missed however fast it ran."""
    return {"job_id": job_id, "after": "0"}


def stream_headers(last_event_id: str | None) -> dict[str, str]:
    found = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if last_event_id:
        found["Last-Event-ID"] = last_event_id
    return found


def is_final(job: dict[str, Any]) -> bool:
    return job.get("status") in FINAL


def later(job: dict[str, Any], than: dict[str, Any]) -> bool:
    """Whether `job` is a later state than `than`: a stream replays a job's changes from its
    first, and a job claimed again after its worker was lost runs with one more attempt."""

    def stage(doc: dict[str, Any]) -> tuple[bool, int, int]:
        return is_final(doc), int(doc.get("attempts") or 0), doc.get("status") == "Running"

    return stage(job) > stage(than)


class Deadline:
    """The time a `wait` has left (infinite without a timeout)."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = math.inf if timeout is None else max(0.0, timeout)
        self.end = time.monotonic() + self.timeout

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.left() <= 0

    def poll_wait(self, progress: bool) -> float:
        return min(self.left(), PROGRESS_POLL if progress else LONG_POLL)

    def stream_timeout(self, base: float) -> httpx.Timeout:
        return httpx.Timeout(base, read=min(self.left(), STREAM_IDLE) + 1.0)

"""IonQ's REST API v0.4, one attempt per request.

qiskit-ionq's client retries on its own (its `retry` decorator: forever on job and result GETs,
five immediate attempts on a submit, which resubmit after a 502-504 and ignore Retry-After) with a
fixed 30 s timeout per request. The executor owns retries and time, so every request here is made
once with `requests`, bounded by a share of `config.call_timeout` (REQUEST_SHARE); the SDK
supplies what is its own: the headers it sends and the parsing of IonQ's error bodies
(`IonQAPIError.from_response`).

IonQ has no idempotency key, so a POST /jobs is the one request that outlives its call: it keeps
listening for IonQ's answer in its own thread (up to LISTEN_SECONDS), and a retried submit in this
process collects that answer instead of creating (and paying for) a second job.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq.catalogue import CREDENTIAL
from qorch.adapters.providers.ionq.errors import IONQ, provider_error, unreadable
from qorch.adapters.providers.pipeline.errors import unreachable
from qorch.domain.execution import ProviderError

REQUEST_SHARE = 0.5
"""The share of `call_timeout` one request (or the wait for a POST's answer) may take: an
unanswered request then ends as our provider_timeout while the worker process lives on. At the
full timeout the executor kills the process, and its retry would start cold, in a process that
no longer holds the POST still listening for its answer."""
LISTEN_SECONDS = 300.0
"""How long a POST /jobs waits for IonQ's answer after its call has stopped waiting."""
_PENDING_KEEP = 10_000


@dataclass
class _Pending:
    """A POST /jobs of this process, answered or still listening."""

    done: threading.Event = field(default_factory=threading.Event)
    job_id: str | None = None
    error: BaseException | None = None


_PENDING: dict[tuple[str, str, str], _Pending] = {}
_PENDING_LOCK = threading.Lock()


@dataclass(frozen=True)
class IonQ:
    key: str = field(repr=False)
    url: str
    timeout: float

    def get(self, path: str, what: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, what, params=params)

    def request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        data: str | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """One request to `path` (relative to the API's URL, or absolute as IonQ's results
        URLs are); IonQ's JSON answer, or a classified ProviderError."""
        import requests
        from qiskit_ionq.exceptions import IonQAPIError
        from qiskit_ionq.ionq_client import IonQClient

        try:
            response = requests.request(
                method,
                urljoin(self.url.rstrip("/") + "/", path),
                params=params,
                data=data,
                headers=IonQClient(self.key, self.url).api_headers,
                timeout=(self.timeout, read_timeout or self.timeout),
            )
            if response.status_code >= 400:
                raise IonQAPIError.from_response(response)
        except Exception as error:
            raise provider_error(error, self.key, what) from None
        try:
            return response.json()
        except ValueError as error:
            raise unreadable(what, error) from None

    def submit(self, body: str, token: str, tag: str) -> str:
        """POSTs one job and returns its IonQ id; `tag` names the execution within the task."""
        pending = _Pending()
        if token:
            with _PENDING_LOCK:
                while len(_PENDING) >= _PENDING_KEEP:  # oldest first; dicts keep insertion order
                    del _PENDING[next(iter(_PENDING))]
                _PENDING[(self.url, token, tag)] = pending

        def post() -> None:
            try:
                answer = self.request(
                    "POST", "jobs", "submit", data=body, read_timeout=LISTEN_SECONDS
                )
                pending.job_id = str(answer["id"])
            except BaseException as error:  # handed to the waiting call
                pending.error = error
            finally:
                pending.done.set()

        threading.Thread(target=post, name="ionq-submit", daemon=True).start()
        self._wait(pending, "submit")
        if pending.error is not None:
            raise pending.error
        assert pending.job_id is not None
        return pending.job_id

    def earlier_submit(self, token: str, tag: str) -> str | None:
        """The job id an earlier POST of this execution in this process got, waiting for its
        answer if it is still listening; None if there was none or it failed."""
        with _PENDING_LOCK:
            pending = _PENDING.get((self.url, token, tag)) if token else None
        if pending is None:
            return None
        self._wait(pending, "an earlier submit of this job")
        return pending.job_id

    def _wait(self, pending: _Pending, what: str) -> None:
        if not pending.done.wait(self.timeout):
            raise unreachable(IONQ, what, f"no answer within {self.timeout:g} s", timed_out=True)


def connect(credentials: dict[str, str], config: ProviderConfig) -> IonQ:
    return IonQ(api_key(credentials), config.ionq_api_url, REQUEST_SHARE * config.call_timeout)


def api_key(credentials: dict[str, str]) -> str:
    key = credentials.get(CREDENTIAL)
    if not isinstance(key, str) or not key.strip():
        # Refused before any call; qiskit-ionq, given no key, would use IONQ_API_KEY from the
        # server's environment or a .env file, i.e. the operator's account.
        raise _bad_key(f"an IonQ API key is required: give options.{CREDENTIAL}")
    key = key.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in key):
        # requests would refuse the header and quote the key in its error message.
        raise _bad_key(f"options.{CREDENTIAL} contains whitespace or control characters")
    return key


def _bad_key(message: str) -> ProviderError:
    return ProviderError("invalid_credentials", message, field=f"options.{CREDENTIAL}")

"""How the executor calls a provider: bounded by its own timeout, retried with backoff when the
provider says it is busy or down, and failing with the provider's own code when it gives up."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from qorch.adapters.executor import Executor
from qorch.adapters.providers.config import ProviderConfig
from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.domain.execution import ProviderError
from qorch.settings import Settings


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    application = open_application(Settings(data_dir=tmp_path))
    yield application
    application.close()


def executor_answering(app: Qorch, answers: list[Any], **config: Any) -> tuple[Executor, list]:
    """An executor whose worker process answers (or raises) each item of `answers` in turn."""
    calls: list[float] = []

    async def run_in_worker(function: Callable[..., Any], *args: Any) -> Any:
        calls.append(time.monotonic())
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        if answer == "hang":
            await anyio.sleep(3600)
        return answer

    settings = {"call_timeout": 5.0, "max_retries": 3, "retry_base_delay": 0.01, **config}
    executor = Executor(
        app,
        concurrency=1,
        lease_seconds=5,
        poll_interval=0.05,
        run_in_worker=run_in_worker,
        provider_config=ProviderConfig(**settings),
    )
    return executor, calls


def rate_limited(after: float | None) -> ProviderError:
    return ProviderError(
        "rate_limited",
        "429 Too Many Requests",
        retryable=True,
        provider_code="429",
        retry_after=after,
    )


@pytest.mark.anyio
async def test_a_rate_limited_call_is_retried_after_the_providers_retry_after(app: Qorch):
    executor, calls = executor_answering(app, [rate_limited(0.3), rate_limited(0.3), "job-1"])
    assert await executor.calls(print) == "job-1"
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.3 and calls[2] - calls[1] >= 0.3


@pytest.mark.anyio
async def test_a_provider_that_stays_down_fails_with_its_own_code_after_bounded_retries(
    app: Qorch,
):
    down = ProviderError(
        "provider_unavailable", "503 Service Unavailable", retryable=True, provider_code="503"
    )
    executor, calls = executor_answering(app, [down] * 10, max_retries=2)
    with pytest.raises(ProviderError) as raised:
        await executor.calls(print)
    assert len(calls) == 3
    assert raised.value.as_dict() == {
        "code": "provider_unavailable",
        "message": "503 Service Unavailable",
        "retryable": True,
        "provider_code": "503",
    }


@pytest.mark.anyio
async def test_a_refusal_is_not_retried(app: Qorch):
    refused = ProviderError("invalid_credentials", "the key was refused", provider_code="401")
    executor, calls = executor_answering(app, [refused, "never"])
    with pytest.raises(ProviderError, match="refused"):
        await executor.calls(print)
    assert len(calls) == 1


@pytest.mark.anyio
async def test_a_hanging_provider_call_is_abandoned_at_our_timeout(app: Qorch):
    executor, calls = executor_answering(app, ["hang", "hang"], call_timeout=0.3, max_retries=1)
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        await executor.calls(print)
    assert raised.value.code == "provider_timeout" and raised.value.retryable
    assert len(calls) == 2
    assert time.monotonic() - started < 2.0


def test_credentials_of_a_job_restarted_right_after_it_ended_are_not_destroyed(app: Qorch):
    from qorch.domain.requests import RunRequest
    from tests.conftest import BELL_QASM2

    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "exp")
    request = RunRequest(
        experiment_id=str(experiment.id),
        circuits_qasm=[BELL_QASM2],
        device_id="ionq_simulator",
        options={"ionq_api_key": "first"},
    )
    job_id = app.submit_job(user_id, request).id
    app.cancel_job(user_id, str(job_id))
    app.restart_job(user_id, str(job_id), {"ionq_api_key": "second"})

    executor, _ = executor_answering(app, [])
    executor.track(app.recorder.select_notifications(start=1, limit=1000))
    assert job_id not in executor.board.closed  # the sweep leaves the restarted job's credentials
    assert app.credentials.open(job_id) == {"ionq_api_key": "second"}  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_provider_error_quoting_the_credentials_is_recorded_without_them(app: Qorch):
    from qorch.domain.requests import RunRequest
    from tests.conftest import BELL_QASM2

    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "exp")
    request = RunRequest(
        experiment_id=str(experiment.id),
        circuits_qasm=[BELL_QASM2],
        device_id="ionq_simulator",
        options={"ionq_api_key": "k-SECRET-123"},
    )
    job_id = app.submit_job(user_id, request).id
    careless = ProviderError("provider_rejected", "key k-SECRET-123 is not allowed here")
    executor, _ = executor_answering(app, [careless], max_retries=0)
    executor.runner.vault = app.credentials  # type: ignore[assignment]
    claim = app.claim_job(job_id, executor.worker_id, time.time(), False, 30)
    assert claim is not None

    record, failure = await executor.runner.run_claimed(claim)

    assert record == app.record_failure
    assert failure["message"] == "key *** is not allowed here"


@pytest.mark.anyio
async def test_a_provider_down_while_a_job_waits_there_does_not_end_the_job(app: Qorch):
    from qorch.domain.execution import ExecutionTask, ProviderJob

    down = ProviderError("provider_unavailable", "502", retryable=True, provider_code="502")
    executor, calls = executor_answering(
        app, [down, down, down, None, down, "the results"], max_retries=0, poll_interval=0.01
    )
    task = ExecutionTask("job", "ionq_simulator", "Run", 10, ())
    handle = ProviderJob("ionq", ("ionq-1",))
    assert await executor.remote.poll_until_done(task, handle, {}) == "the results"
    assert len(calls) == 6

    refused = ProviderError("provider_failed", "the job failed at IonQ", provider_code="E1")
    executor, _ = executor_answering(app, [None, refused], max_retries=0, poll_interval=0.01)
    with pytest.raises(ProviderError, match="failed at IonQ"):
        await executor.remote.poll_until_done(task, handle, {})


def test_credentials_are_masked_however_an_error_quotes_them():
    from qorch.adapters.providers.pipeline.secrets import without_secrets

    secret = "FwoGZXIvYXdzEJr\n"
    quoted = f"Invalid header value {secret.encode()!r} and {secret!r} and {secret.strip()}"
    masked = without_secrets({"message": quoted, "retryable": True}, {"t": secret})
    assert "FwoGZXIvYXdzEJr" not in masked["message"] and masked["retryable"] is True

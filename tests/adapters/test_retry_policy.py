"""The one retry policy for provider calls, as an operator reads it in the log."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from qorch.adapters.executor.calls import ProviderCalls
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.execution import ProviderError


@pytest.mark.anyio
async def test_a_retried_call_is_logged_without_the_credentials_it_quoted(
    caplog: pytest.LogCaptureFixture,
):
    answers: list[Any] = [
        ProviderError("rate_limited", "429 for key k-SECRET-9", retryable=True, retry_after=0.01),
        "job-1",
    ]

    async def worker(function: Any, *args: Any) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    calls = ProviderCalls(worker, ProviderConfig(max_retries=2, retry_base_delay=0.01))
    with caplog.at_level(logging.WARNING, logger="qorch.executor"):
        assert await calls(print, secrets={"ionq_api_key": "k-SECRET-9"}) == "job-1"
    (logged,) = [record.getMessage() for record in caplog.records]
    assert "rate_limited" in logged and "retry 1 of 2" in logged
    assert "k-SECRET-9" not in logged

"""The one retry and timeout policy for provider calls (providers make single attempts).

Each call runs in a worker process and is bounded by `call_timeout`: past it the process is
killed (some clients retry forever). A retryable failure — a timeout, a 429, a 5xx — is tried
again up to `max_retries` times, after an exponential backoff with full jitter or the provider's
Retry-After, whichever is longer; then the last error is raised as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from qorch.adapters.executor.workers import RunInWorker
from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.pipeline.secrets import without_secrets
from qorch.domain.execution import ProviderError

log = logging.getLogger("qorch.executor")

MAX_DELAY = 300.0
"""Seconds at most between two attempts, whatever a provider's Retry-After asks for."""


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, ProviderError) and error.retryable


class ProviderCalls:
    def __init__(self, run_in_worker: RunInWorker, config: ProviderConfig) -> None:
        self.run_in_worker = run_in_worker
        self.config = config
        # Full jitter whose mean is the base delay doubled per attempt.
        self._backoff = wait_random_exponential(
            multiplier=2 * config.retry_base_delay, max=MAX_DELAY
        )

    async def __call__(
        self, function: Callable[..., Any], *args: Any, secrets: dict[str, str] | None = None
    ) -> Any:
        """`function(*args)` in a worker process, retried by the policy; `secrets` are masked
        in what is logged."""
        retrying = AsyncRetrying(
            sleep=anyio.sleep,
            stop=stop_after_attempt(self.config.max_retries + 1),
            wait=self._pause,
            retry=retry_if_exception(is_retryable),
            before_sleep=lambda state: self._log_retry(function, state, secrets or {}),
            reraise=True,
        )
        return await retrying(self._once, function, *args)

    async def _once(self, function: Callable[..., Any], *args: Any) -> Any:
        timeout = self.config.call_timeout
        try:
            with anyio.fail_after(timeout):
                return await self.run_in_worker(function, *args)
        except TimeoutError:
            raise ProviderError(
                "provider_timeout",
                f"the provider did not answer within {timeout:g} s",
                retryable=True,
            ) from None

    def _pause(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None) or 0.0
        return min(max(self._backoff(state), retry_after), MAX_DELAY)

    def _log_retry(
        self, function: Callable[..., Any], state: RetryCallState, secrets: dict[str, str]
    ) -> None:
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, ProviderError)  # only these are retried
        log.warning(
            "%s failed (%s: %s); retry %d of %d in %.1f s",
            getattr(function, "__name__", function),
            error.code,
            without_secrets(error.message, secrets),
            state.attempt_number,
            self.config.max_retries,
            state.upcoming_sleep,
        )

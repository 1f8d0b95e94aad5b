"""One delivery attempt over HTTP: signed, to the checked address, bounded in every way.

No redirects are followed (a 3xx is a failed attempt), no proxy from the environment is used
(it would connect on our behalf to whatever the name resolves to there), timeouts are short, and
at most `max_answer_bytes` of the answer are read (only its status matters; a little of the body
goes into the delivery's `last_error`).
"""

from __future__ import annotations

import time

import anyio.to_thread
import httpx

from qorch.adapters.webhooks.signing import signed_headers
from qorch.adapters.webhooks.ssrf import Refused, TargetGuard
from qorch.domain.webhook_commands import Attempt, Outcome

MAX_ANSWER_BYTES = 16 * 1024
SHOWN_ANSWER = 200


class Sender:
    def __init__(
        self,
        guard: TargetGuard,
        timeout: float = 10.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.guard = guard
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self.max_answer_bytes = max_answer_bytes

    async def send(self, attempt: Attempt) -> Outcome:
        try:
            target = await anyio.to_thread.run_sync(self.guard.resolve, attempt.url)
        except Refused as error:
            return Outcome(None, f"refused: {error}")
        headers = signed_headers(
            attempt.secret, str(attempt.delivery_id), attempt.payload_json, time.time()
        )
        headers["host"] = target.host_header
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            async with (
                httpx.AsyncClient(
                    follow_redirects=False, trust_env=False, timeout=self.timeout
                ) as client,
                client.stream(
                    "POST",
                    target.connect_url,
                    content=attempt.payload_json.encode(),
                    headers=headers,
                    extensions=extensions,
                ) as answer,
            ):
                shown = await self._read_some(answer)
        except httpx.TimeoutException as error:
            return Outcome(None, f"timed out ({type(error).__name__})")
        except httpx.HTTPError as error:
            return Outcome(None, f"{type(error).__name__}: {error}"[:SHOWN_ANSWER])
        code = answer.status_code
        if 200 <= code < 300:
            return Outcome(code)
        if 300 <= code < 400:
            return Outcome(code, f"HTTP {code}: redirects are not followed")
        return Outcome(code, f"HTTP {code}: {shown}".rstrip(": "))

    async def _read_some(self, answer: httpx.Response) -> str:
        read = b""
        async for chunk in answer.aiter_raw():
            read += chunk
            if len(read) >= self.max_answer_bytes:
                break
        return read[:SHOWN_ANSWER].decode(errors="replace").strip()

"""A webhook receiver on loopback: records every POST and verifies it with `standardwebhooks`.

Tests start it on a free port, stop it (the port then refuses connections) and start it again
on the same port; `hang` makes it hold requests without answering (a receiver that is slow, or
a server killed mid-delivery).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.e2e.servers import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    def verified(self, secret: str) -> dict[str, Any]:
        """The payload, once its signature checks out with `secret` (raises otherwise)."""
        verified: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return verified


class Receiver:
    def __init__(self, port: int | None = None, status: int = 200) -> None:
        self.port = port or free_port()
        self.status = status
        self.hang = False
        self.received: list[Received] = []
        """Every request that reached it, answered or not, in order."""
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length).decode()
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._lock:
                    receiver.received.append(Received(headers, body))
                if receiver.hang:
                    receiver._release.wait(120)
                    return
                self.send_response(receiver.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._release.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def answer(self) -> None:
        """Answers from now on; requests held so far are let go unanswered."""
        self.hang = False
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(
        self, done: Callable[[list[Received]], bool], seconds: float = 60
    ) -> list[Received]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                found = list(self.received)
            if done(found):
                return found
            time.sleep(0.05)
        raise AssertionError(f"the receiver got only {[r.payload for r in self.received]}")

    def types_for(self, job_id: str) -> list[str]:
        """The event types received for a job, in order, repeats included."""
        with self._lock:
            return [r.payload["type"] for r in self.received if r.payload["data"]["id"] == job_id]

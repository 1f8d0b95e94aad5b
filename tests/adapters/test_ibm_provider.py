"""The IBM provider as the executor sees it: a small picklable object behind the Provider port."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from qorch.adapters.providers import Registry
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.execution import ProviderError
from qorch.domain.ports import Provider

METHODS = ("devices", "check_request", "estimate", "run", "submit", "poll", "cancel")


def test_the_registry_builds_a_picklable_ibm_provider() -> None:
    provider: Provider = Registry(ProviderConfig(call_timeout=7.0)).provider("ibm")  # mypy: port
    copy = pickle.loads(pickle.dumps(provider))
    assert copy == provider and copy.name == "ibm" and copy.config.call_timeout == 7.0
    assert all(callable(getattr(copy, method)) for method in (*METHODS, "live_status", "warm_up"))
    assert [d.id for d in copy.devices()] == [d.id for d in provider.devices()]
    assert {d.provider for d in copy.devices()} == {"ibm"}


def test_listing_ibm_devices_does_not_import_the_sdk() -> None:
    code = (
        "import sys; from qorch.adapters.providers.config import ProviderConfig; "
        "from qorch.adapters.providers.ibm import build; "
        "devices = build(ProviderConfig()).devices(); "
        "assert devices and 'qiskit_ibm_runtime' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_busy_ibm_api_is_asked_once_and_the_answer_is_classified_for_the_executor() -> None:
    from qiskit_ibm_runtime.api.session import RetrySession

    from qorch.adapters.providers.ibm import errors, service

    asked: list[str] = []

    class Busy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            asked.append(self.path)
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    session = RetrySession(f"http://127.0.0.1:{server.server_address[1]}")  # the SDK's: 5 tries
    sdk = SimpleNamespace(_active_api_client=SimpleNamespace(_session=session), _api_clients={})
    try:
        service._single_attempts(sdk, read_timeout=3.0)
        with pytest.raises(ProviderError) as raised, service.calling("token", "submit"):
            session.post("/jobs")
    finally:
        server.shutdown()
        server.server_close()
    assert asked == ["/jobs"]
    assert raised.value.code == "provider_unavailable" and raised.value.retryable
    assert session._timeout == (service.CONNECT_TIMEOUT, 3.0)
    assert errors.IBM in raised.value.message

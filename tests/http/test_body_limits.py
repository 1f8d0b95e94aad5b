"""Request bodies are limited per route before anything reads them, authentication included: a
huge body is refused from its Content-Length, or cut with 413 while it streams, and never sits in
the server's memory. Checked against a real `qorch serve` process, measuring its resident memory.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import Account
from tests.e2e.servers import Server, free_port

MIB = 1024 * 1024
HUGE = 300 * MIB
RSS_MARGIN = 100 * MIB


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("body-limits"), free_port(), "--no-worker")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Sent:
    status: int | None
    """The status line's code; None when the server closed the connection before it was read."""
    body_bytes_sent: int
    peak_rss_growth: int
    seconds: float


def _status_of(sock: socket.socket) -> int | None:
    sock.settimeout(30)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data.split(b" ", 2)[1])


def send_body(
    server: Server,
    path: str,
    total: int,
    *,
    headers: dict[str, str] | None = None,
    declare_length: bool = False,
    content_type: str = "application/json",
) -> Sent:
    """POSTs `total` bytes to `path`, chunked (no Content-Length) unless `declare_length`, and
    stops sending as soon as the server answers; measures the server's RSS all along."""
    assert server.process is not None
    pid = server.process.pid
    idle = rss_bytes(pid)
    peak = idle
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    head.append(f"Content-Type: {content_type}")
    head.append(f"Content-Length: {total}" if declare_length else "Transfer-Encoding: chunked")
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    chunk = b"x" * MIB
    sent = 0
    try:
        if declare_length:  # the answer must come from the headers alone
            readable, _, _ = select.select([sock], [], [], 10)
            assert readable, "no answer to a declared oversized body within 10 s"
        else:
            sock.settimeout(10)
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                try:
                    sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    break
                sent += len(chunk)
                peak = max(peak, rss_bytes(pid))
            else:
                sock.sendall(b"0\r\n\r\n")
        status = _status_of(sock)
        peak = max(peak, rss_bytes(pid))
    finally:
        sock.close()
    return Sent(status, sent, peak - idle, time.monotonic() - started)


def test_a_huge_sign_in_form_without_a_key_is_cut_early_and_never_buffered(served: Server):
    sent = send_body(
        served, "/dashboard/sign-in", HUGE, content_type="application/x-www-form-urlencoded"
    )
    print("sign-in, 300 MB streamed:", sent)
    assert sent.status in (413, None), sent
    assert sent.body_bytes_sent < 32 * MIB, sent  # cut near the 64 KiB form limit
    assert sent.peak_rss_growth < RSS_MARGIN, sent


def test_a_declared_huge_sign_in_form_is_refused_from_its_content_length(served: Server):
    sent = send_body(
        served,
        "/dashboard/sign-in",
        HUGE,
        declare_length=True,
        content_type="application/x-www-form-urlencoded",
    )
    assert sent.status == 413, sent
    assert sent.seconds < 5


def test_a_huge_streamed_submit_with_a_key_is_cut_at_the_limit(served: Server):
    sent = send_body(
        served,
        "/ai/run_circuits_on_qpu_or_simulator",
        HUGE,
        headers={"Authorization": served.key},
    )
    print("submit, 300 MB streamed:", sent)
    assert sent.status in (413, None), sent
    assert sent.body_bytes_sent < 100 * MIB, sent  # cut at the 32 MiB submit limit
    assert sent.peak_rss_growth < RSS_MARGIN, sent


def test_a_declared_huge_submit_is_refused_before_authentication(served: Server):
    for headers in ({}, {"Authorization": served.key}):
        sent = send_body(
            served,
            "/ai/run_circuits_on_qpu_or_simulator",
            HUGE,
            headers=headers,
            declare_length=True,
        )
        assert sent.status == 413, sent


def test_the_server_still_answers_after_the_huge_bodies(served: Server):
    assert served.call("GET", "/health").status_code == 200


# --- the limits per route, on the in-process app ---


def test_small_routes_take_the_small_limit_and_submits_the_big_one(alice: Account):
    two_mib = b'{"name": "' + b"n" * (2 * MIB) + b'"}'
    answer = alice.client.post(
        "/experiments", content=two_mib, headers={**alice.headers, "Content-Type": "text/json"}
    )
    assert answer.status_code == 413, answer.text
    body = answer.json()
    assert body["error"]["code"] == "body_too_large"
    assert set(body) == {"error", "detail"}
    run = (
        b'{"experiment_id": "%s",' % alice.experiment_id.encode()
        + b" " * (2 * MIB)
        + b'"circuits_qasm": ["OPENQASM 2.0; qreg q[1];"],'
        + b' "run_type": "StatevectorRun", "dry_run": true}'
    )
    answer = alice.client.post(
        "/ai/run_circuits_on_qpu_or_simulator", content=run, headers=alice.headers
    )
    assert answer.status_code == 201, answer.text


def test_dashboard_forms_take_the_form_limit(server: TestClient):
    answer = server.post(
        "/dashboard/sign-in",
        content=b"api_key=" + b"k" * (100 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413


def test_a_streamed_body_without_a_length_is_counted(alice: Account):
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b" " * (512 * 1024)

    answer = alice.client.post("/experiments", content=chunks(), headers=alice.headers)
    assert answer.status_code == 413, answer.text


def test_an_mcp_message_over_the_big_limit_is_cut(alice: Account):
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * MIB

    answer = alice.client.post(
        "/mcp",
        content=chunks(),
        headers={"Accept": "application/json, text/event-stream", **alice.headers},
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "body_too_large"

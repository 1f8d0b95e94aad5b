"""Where webhooks may point. Names resolve through a stubbed resolver, and the only traffic any
test sends goes to a receiver on loopback: a name "resolving" to 127.0.0.1 is how a test sees
that the request connects to the address that was checked, not to a second lookup's answer."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from uuid import uuid4

import anyio
import pytest

from qorch.adapters.webhooks.sender import Sender
from qorch.adapters.webhooks.ssrf import Refused, TargetGuard, refusal
from qorch.domain.errors import RequestError
from qorch.domain.webhook_commands import Attempt
from tests.fakes.webhook_receiver import Receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
INSIDE = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "169.254.10.10",
    "100.64.0.1",
    "::1",
    "fe80::1",
    "fc00::7",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
]
NEVER = ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "224.0.0.1", "::"]


class Names:
    """A resolver from a table; records what it was asked."""

    def __init__(self, **table: Sequence[str]) -> None:
        self.table = {name.replace("_", "."): list(found) for name, found in table.items()}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError("Name or service not known")
        return self.table[host]


@pytest.mark.parametrize("address", INSIDE + NEVER)
def test_addresses_inside_are_refused_and_public_ones_pass(address: str):
    assert refusal(ipaddress.ip_address(address), allow_private=False)
    assert refusal(ipaddress.ip_address("93.184.215.14"), allow_private=False) is None
    assert refusal(ipaddress.ip_address("2606:4700::6810:85e5"), allow_private=False) is None


@pytest.mark.parametrize("address", INSIDE)
def test_an_operator_may_allow_private_targets_but_never_metadata(address: str):
    assert refusal(ipaddress.ip_address(address), allow_private=True) is None
    for never in NEVER:
        assert refusal(ipaddress.ip_address(never), allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://0x7f.0.0.1/",
        "http://2130706433/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://localhost:9000/",
        "http://api.localhost/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_registration_refuses_inside_addresses_and_names_without_looking_anything_up(url: str):
    names = Names()
    with pytest.raises(RequestError) as refused:
        TargetGuard(resolver=names).check("url", url)
    assert refused.value.field == "url" and "refused" in refused.value.message
    assert names.asked == []


def test_registration_accepts_public_addresses_and_leaves_names_to_delivery():
    names = Names()
    guard = TargetGuard(resolver=names)
    guard.check("url", "https://93.184.215.14/hook")
    guard.check("url", "https://hooks.example.com/hook")
    assert names.asked == []


def test_at_delivery_every_address_a_name_resolves_to_is_checked():
    names = Names(
        public_example=["93.184.215.14"],
        mixed_example=["93.184.215.14", "10.0.0.7"],
        metadata_example=["169.254.169.254"],
        mapped_example=["::ffff:127.0.0.1"],
    )
    guard = TargetGuard(resolver=names)

    target = guard.resolve("https://public.example:8443/hook?x=1")
    assert target.connect_url == "https://93.184.215.14:8443/hook?x=1"
    assert target.host_header == "public.example:8443"
    for name in ("mixed", "metadata", "mapped"):
        with pytest.raises(Refused, match="resolves to"):
            guard.resolve(f"https://{name}.example/hook")
    with pytest.raises(Refused, match="does not resolve"):
        guard.resolve("https://nowhere.example/hook")
    with pytest.raises(Refused, match="metadata"):
        TargetGuard(allow_private=True, resolver=names).resolve("https://metadata.example/")


def attempt_to(url: str) -> Attempt:
    return Attempt(uuid4(), url, '{"type":"job.done"}', SECRET, 1)


def send(sender: Sender, url: str):
    return anyio.run(sender.send, attempt_to(url))


def test_a_name_resolving_inside_is_refused_at_delivery_and_nothing_is_sent():
    receiver = Receiver().start()
    try:
        names = Names(hooks_qorch_test=["127.0.0.1"])
        outcome = send(
            Sender(TargetGuard(resolver=names)), f"http://hooks.qorch.test:{receiver.port}/"
        )
        assert outcome.status_code is None and not outcome.ok
        assert outcome.error.startswith("refused: hooks.qorch.test resolves to 127.0.0.1")
        assert receiver.received == []
    finally:
        receiver.stop()


def test_the_request_goes_to_the_checked_address_signed_with_the_name_as_host():
    receiver = Receiver().start()
    try:
        names = Names(hooks_qorch_test=["127.0.0.1"])
        sender = Sender(TargetGuard(allow_private=True, resolver=names))
        outcome = send(sender, f"http://hooks.qorch.test:{receiver.port}/hook")
        assert outcome.ok and outcome.status_code == 200
        [got] = receiver.received
        assert got.headers["host"] == f"hooks.qorch.test:{receiver.port}"
        assert got.verified(SECRET) == {"type": "job.done"}
        assert names.asked == ["hooks.qorch.test"]  # once, by the check; never again to connect
    finally:
        receiver.stop()


def test_redirects_are_not_followed_and_errors_are_kept_short():
    receiver = Receiver(status=302).start()
    try:
        sender = Sender(TargetGuard(allow_private=True))
        outcome = send(sender, receiver.url)
        assert outcome.status_code == 302 and "redirects are not followed" in outcome.error
        assert len(receiver.received) == 1
        receiver.status = 500
        failed = send(sender, receiver.url)
        assert failed.status_code == 500 and failed.error == "HTTP 500: ok"
    finally:
        receiver.stop()


def test_a_receiver_that_never_answers_times_out():
    receiver = Receiver().start()
    receiver.hang = True
    try:
        outcome = send(Sender(TargetGuard(allow_private=True), timeout=0.5), receiver.url)
        assert outcome.status_code is None and outcome.error.startswith("timed out")
    finally:
        receiver.stop()


def test_a_receiver_that_is_down_is_a_failed_attempt():
    receiver = Receiver()  # never started: the port refuses connections
    outcome = send(Sender(TargetGuard(allow_private=True)), receiver.url)
    assert outcome.status_code is None and "ConnectError" in outcome.error

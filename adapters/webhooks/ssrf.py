"""Where webhooks may point: never at this machine, its network or a cloud's metadata service.

Refused: loopback, private (RFC 1918, unique-local IPv6), link-local, shared (100.64/10),
multicast, unspecified, reserved and every other non-global address, IPv4 embedded in IPv6
(mapped `::ffff:a.b.c.d`, 6to4, Teredo) by the IPv4 address inside, and the metadata services
(169.254.169.254, fd00:ec2::254, 100.100.100.200, 169.254.170.2, metadata.google.internal).
`QORCH_WEBHOOK_ALLOW_PRIVATE` allows loopback, private, link-local and shared addresses (a
receiver on a trusted network); metadata services, multicast and unspecified stay refused.

Checked twice: at registration the URL's literal address or well-known name (no name is looked
up then, so that registering sends nothing anywhere), and at every delivery every address the
name resolves to; the request then connects to the address that was checked (the name is not
looked up again), so a name cannot answer one address to the check and another to the connect.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from qorch.domain.errors import RequestError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the addresses it resolves to, as text; raises OSError when it does not."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2"}
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """A delivery may not go to this URL; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: Address, allow_private: bool) -> str | None:
    """Why a delivery may not go to `address` (None: it may)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        why = refusal(embedded, allow_private)
        return f"{why} (inside {address})" if why else None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_multicast or address.is_unspecified:
        return f"{address} is not a host's address"
    if address.is_global:
        return None
    if address.is_loopback:
        kind = "a loopback"
    elif address.is_link_local:
        kind = "a link-local"
    elif address.is_reserved:
        return f"{address} is a reserved address"
    elif address.is_private:
        kind = "a private"
    else:
        kind = "a non-public"  # shared address space (100.64/10) and the like
    if allow_private:
        return None
    return f"{address} is {kind} address (allowed only with QORCH_WEBHOOK_ALLOW_PRIVATE)"


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def literal_address(host: str) -> Address | None:
    """The address a URL's host spells out, in any form a resolver would read as one
    (`127.1`, `0x7f.0.0.1`, `2130706433`, `[::1]`); None for a name."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


@dataclass(frozen=True)
class Target:
    """A URL with the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: Address

    @property
    def connect_url(self) -> str:
        shown = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{shown}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS[self.scheme] == self.port
        return shown if default else f"{shown}:{self.port}"


class TargetGuard:
    def __init__(self, allow_private: bool = False, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.resolver = resolver or system_resolver

    def check(self, field: str, url: str) -> None:
        """At registration: refuses a literal address or well-known name that may not be called
        (RequestError naming `field`); other names are checked at delivery."""
        try:
            host = _host_of(url)
            self._check_name(host)
            address = literal_address(host)
            why = refusal(address, self.allow_private) if address is not None else None
        except Refused as error:
            why = str(error)
        if why:
            raise RequestError(field, f"refused: {why}")

    def resolve(self, url: str) -> Target:
        """At delivery: the address to connect to, after every address of the name passed."""
        parts = urlsplit(url)
        host = _host_of(url)
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        self._check_name(host)
        literal = literal_address(host)
        if literal is not None:
            addresses: list[Address] = [literal]
        else:
            try:
                found = self.resolver(host, port)
            except OSError as error:
                raise Refused(f"{host} does not resolve ({error})") from error
            addresses = [ipaddress.ip_address(text.split("%")[0]) for text in found]
        if not addresses:
            raise Refused(f"{host} resolves to no address")
        for address in addresses:
            why = refusal(address, self.allow_private)
            if why:
                raise Refused(f"{host} resolves to {why}" if literal is None else why)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(parts.scheme, host, port, path, addresses[0])

    def _check_name(self, host: str) -> None:
        name = host.rstrip(".").lower()
        if name in METADATA_NAMES:
            raise Refused(f"{host} is a cloud metadata service")
        loopback = name in LOOPBACK_NAMES or name.endswith(".localhost")
        if loopback and not self.allow_private:
            raise Refused(f"{host} is this machine (QORCH_WEBHOOK_ALLOW_PRIVATE allows it)")


def _host_of(url: str) -> str:
    host = urlsplit(url).hostname
    if not host:
        raise Refused("the URL has no host")
    return host

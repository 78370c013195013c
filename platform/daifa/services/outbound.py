"""Where the platform may connect when a stranger names the address: webhook URLs.

A webhook URL could point the platform at itself, at the machine's metadata service (169.254.169.254),
or at anything on the private network behind it. So a URL is refused unless:
- it is https (http only in development, `allow_local`), with no credentials in it;
- its host, written as a name or an IP address in its usual form (not `2130706433`, `0x7f000001`,
  `127.1`), resolves only to public addresses: never loopback, private, link-local, multicast,
  reserved or unspecified, for IPv4 and IPv6, and for IPv4 addresses carried inside IPv6 ones
  (mapped `::ffff:10.0.0.1`, 6to4, Teredo, NAT64).
The check runs when the URL is registered and again on every connection (`GuardedBackend` resolves the
name itself and connects only to an address it checked), so a name that resolved to a public address
at registration and resolves to 127.0.0.1 at delivery (DNS rebinding) is still refused. Redirects are
never followed.

`allow_local` (a server setting, off by default) also lets loopback addresses through, for a receiver
on the developer's own machine; private and link-local addresses stay refused.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpcore

from daifa.domain.limits import MAX_URL
from daifa.errors import InvalidInput, Problem

Resolver = Callable[[str, int], list[str]]  # (host, port) -> the IP addresses it resolves to
RESOLVE_TIMEOUT = 3.0  # seconds for a name to resolve, at registration
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_resolving = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="daifa-resolve")


class Refused(Exception):
    """An address the platform will not connect to, and why."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


@dataclass
class Outbound:
    allow_local: bool = False
    resolver: Resolver = field(default=system_resolver)

    def check_url(self, url: str, field_name: str = "url") -> Target:
        """The URL's target, after the checks that need no lookup; InvalidInput says what is wrong."""
        try:
            target = self._parse(url)
        except Refused as refused:
            raise InvalidInput([Problem(field_name, str(refused))]) from None
        return target

    def check_url_resolving(self, url: str, field_name: str = "url") -> Target:
        """`check_url`, then the host resolved (within RESOLVE_TIMEOUT) and every address checked."""
        target = self.check_url(url, field_name)
        future = _resolving.submit(self.resolve, target.host, target.port)
        try:
            future.result(timeout=RESOLVE_TIMEOUT)
        except concurrent.futures.TimeoutError:
            raise InvalidInput(
                [Problem(field_name, f"{target.host} did not resolve within {RESOLVE_TIMEOUT:g} s")]
            ) from None
        except Refused as refused:
            raise InvalidInput([Problem(field_name, str(refused))]) from None
        return target

    def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses, every one of them allowed; Refused otherwise (one forbidden address
        refuses them all: the resolver's order is not the connection's)."""
        try:
            addresses = [host] if _ip(host) is not None else self.resolver(host, port)
        except OSError as error:
            raise Refused(f"{host} does not resolve ({error.strerror or error})") from None
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for address in addresses:
            reason = self.forbidden(address)
            if reason is not None:
                raise Refused(f"{host} resolves to {address}, {reason}: use a public address")
        return addresses

    def forbidden(self, address: str) -> str | None:
        """Why the platform may not connect to `address`, or None if it may."""
        ip = _ip(address)
        if ip is None:
            return "not an IP address"
        for candidate in _with_embedded(ip):
            reason = _reason(candidate)
            if reason == "a loopback address" and self.allow_local:
                continue
            if reason is not None:
                return reason
        return None

    def backend(self) -> GuardedBackend:
        return GuardedBackend(self)

    def _parse(self, url: str) -> Target:
        if not isinstance(url, str) or not url or len(url) > MAX_URL:
            raise Refused(f"must be an https URL of at most {MAX_URL} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise Refused(f"is not a URL: {error}") from None
        allowed = ("https", "http") if self.allow_local else ("https",)
        if parts.scheme not in allowed:
            raise Refused("must start with https://")
        if parts.username is not None or parts.password is not None:
            raise Refused("must not carry credentials (user:password@): check the signature header instead")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise Refused("has no host")
        if any(ch.isspace() or ord(ch) < 0x21 for ch in url):
            raise Refused("must not contain spaces or control characters")
        if _ip(host) is None:
            if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
                raise Refused(f"{host} is an address in an unusual form: write it as 203.0.113.7, or use a name")
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise Refused(f"{host} is not a valid host name") from None
        else:
            reason = self.forbidden(host)
            if reason is not None:
                raise Refused(f"{host} is {reason}: use a public address")
        return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses `Outbound` allows: it resolves the name
    itself, checks every address, and connects to a checked one. TLS still verifies the certificate for
    the name (httpcore passes it as the server name)."""

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await anyio.to_thread.run_sync(self.outbound.resolve, host, port)
        except Refused as refused:
            raise httpcore.ConnectError(f"refused: {refused}") from None
        error: Exception = httpcore.ConnectError(f"{host}: no address to connect to")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: webhooks go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _with_embedded(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The address and the IPv4 addresses it carries (mapped, 6to4, Teredo, NAT64)."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            found.append(ip.sixtofour)
        if ip.teredo is not None:
            found.extend(ip.teredo)
        if ip in _NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF))
    return found


def _reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    checks = [
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    ]
    return next((reason for hit, reason in checks if hit), None)

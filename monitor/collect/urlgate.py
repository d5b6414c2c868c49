"""The one gate every outbound URL passes: http(s) only, and no private or local addresses.

A feed or page can link anywhere; without this gate a hostile item could make the monitor
request its own host or the local network. Two steps, each once per request:
- `is_fetch_url_allowed`, before a request: the scheme, the host, an IP literal's address;
- `checked_addresses`, when the connection is made (`fetch.GatedBackend`): the host is resolved
  once, every address of the answer is checked, and only those addresses are connected to. A
  check that resolved the name apart from the connection could be told one address and the
  connection another (DNS rebinding), so the name is resolved in one place only. A failed
  lookup is a refusal, with its reason.
`address_reason` is the pure decision; only `resolve_host` touches the network (a DNS lookup).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


def is_fetch_url_allowed(url: str, *, source_host: str | None = None, allow_private: bool = False) -> str | None:
    """A reason to refuse fetching `url`, or None: its scheme, its host, and the address of an
    IP literal. A name's addresses are checked where the connection is made (`checked_addresses`).

    The host the user configured (`source_host`) is exempt from the address check, as is
    everything under `allow_private`.
    """
    try:
        parts = urlsplit(url.strip())
        host = _host(parts.hostname)
    except ValueError:
        return "malformed URL"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return f"scheme {scheme or '(none)'!r} is not allowed"
    if not host:
        return "no host"
    if allow_private or (source_host is not None and host == _host(source_host)) or not _is_ip(host):
        return None
    return address_reason(host)


def checked_addresses(host: str, resolver: Resolver | None = None) -> tuple[list[str], str | None]:
    """The addresses to connect to for `host`, every one checked: (addresses, None), or a
    reason to refuse them all: a lookup that failed or found nothing, or any address the gate
    refuses (one bad answer among good ones is a name that cannot be trusted)."""
    host = _host(host)
    addresses = (resolver or resolve_host)(host)
    if not addresses:
        return [], f"cannot resolve {host}"
    for address in addresses:
        if reason := address_reason(address):
            return [], reason if _is_ip(host) else f"{host} resolves to {reason}"
    return addresses, None


def same_host(a: str, b: str) -> bool:
    """Whether two hosts, as URLs and sockets write them, are one."""
    return _host(a) == _host(b)


def address_reason(ip: str) -> str | None:
    """Why the monitor must not connect to `ip`, or None for a public address."""
    try:
        address: IPAddress = ipaddress.ip_address(ip)
    except ValueError:
        return f"{ip!r} is not an IP address"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_reason(str(embedded))
    for flag, reason in (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-global"),
    ):
        if flag:
            return f"{reason} address {address}"
    return None


def resolve_host(host: str) -> list[str]:
    """The addresses `host` stands for: itself for an IP literal, else a DNS lookup;
    empty when the lookup fails."""
    if _is_ip(host):
        return [host]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host(host: str | None) -> str:
    """A host as compared and resolved: lower case, no brackets, no trailing dot."""
    return (host or "").strip().strip("[]").rstrip(".").lower()


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), which is what it reaches."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None

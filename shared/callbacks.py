"""Where a job's webhook may go: public addresses only, unless settings allow more.

A callback URL is chosen by whoever submits the job, and the worker POSTs to it.
Left open, that lets a caller make the worker reach what only the inside can see:
loopback services, the private network, a cloud's metadata endpoint
(169.254.169.254). So a callback must resolve to global addresses only, checked
twice: at submit (an IP literal or `localhost` is refused at once, without a DNS
lookup on the request path) and at delivery (the host's every address, as resolved
then). `SPECTRUM_WEBHOOK_ALLOW_PRIVATE=true` lifts the rule for development and
tests, where the receiver runs on this machine.

Not covered: a name that resolves differently between this check and the POST's own
lookup (DNS rebinding); pinning the connection to the checked address would close it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

Resolver = Callable[[str, int], list[str]]

ALLOW_SETTING = "SPECTRUM_WEBHOOK_ALLOW_PRIVATE=true"


def _not_global(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def literal_refusal(host: str) -> str | None:
    """Why `host` is refused without resolving it (an IP literal or localhost), or None."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"callback_url: {host} is this machine; set {ALLOW_SETTING} to allow it"
    try:
        blocked = _not_global(name)
    except ValueError:
        return None  # a name: checked when the webhook is delivered
    if blocked:
        return f"callback_url: {host} is not a public address; set {ALLOW_SETTING} to allow it"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def delivery_refusal(host: str, port: int, resolve: Resolver = system_resolver) -> str | None:
    """Why a webhook to `host` must not be sent now, or None when every address is public."""
    refusal = literal_refusal(host)
    if refusal is not None:
        return refusal
    try:
        addresses = resolve(host, port)
    except OSError:
        return None  # not known yet: the POST fails the same way, and is retried
    private = sorted({a for a in addresses if _not_global(a)})
    if private:
        return (
            f"callback_url: {host} resolves to {', '.join(private)}, not a public address; "
            f"set {ALLOW_SETTING} to allow it"
        )
    return None

"""Where a job's webhook may go: public addresses only, unless settings allow more.

A callback URL is chosen by whoever submits the job, and the worker POSTs to it.
Left open, that lets a caller make the worker reach what only the inside can see:
loopback services, the private network, a cloud's metadata endpoint
(169.254.169.254). So a callback must resolve to global addresses only, checked
twice: at submit (an IP literal or `localhost` is refused at once, without a DNS
lookup on the request path) and at delivery (the host's every address, as resolved
then). `SPECTRUM_WEBHOOK_ALLOW_PRIVATE=true` lifts the rule for development and
tests, where the receiver runs on this machine.

A name is resolved once per delivery, and the connection goes to an address that
was checked: never a second lookup, so a name that answers a public address to the
check and a private one to the POST (DNS rebinding) reaches nothing it should not.
The URL's host is replaced by that address; the original name is sent as `Host`
and, for https, as the TLS server name, so SNI and the certificate check are
against the name, not the address. With private addresses allowed the check is
skipped, not the pinning.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from spectrum.shared.errors import CallbackRefused

Resolver = Callable[[str, int], list[str]]

ALLOW_SETTING = "SPECTRUM_WEBHOOK_ALLOW_PRIVATE=true"


# IPv6 prefixes whose addresses carry an IPv4 address in their last 32 bits, which a
# translator or relay on the path may deliver to: NAT64 (RFC 6052, well-known and
# local-use), IPv4-translated (RFC 2765) and the deprecated IPv4-compatible form.
_EMBEDDING_PREFIXES = tuple(
    ipaddress.IPv6Network(prefix)
    for prefix in ("64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96", "::/96")
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address `ip` may lead to: mapped, 6to4, Teredo, NAT64 and the rest."""
    found = [v4 for v4 in (ip.ipv4_mapped, ip.sixtofour) if v4 is not None]
    if ip.teredo is not None:
        found.extend(ip.teredo)  # (server, client)
    if any(ip in prefix for prefix in _EMBEDDING_PREFIXES):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _not_global(address: str) -> bool:
    """Whether `address` is, or leads to, anything but a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        candidates.extend(_embedded_ipv4(ip))
    return any(not c.is_global or c.is_multicast for c in candidates)


def _ipv4_shorthand(name: str) -> str | None:
    """`name` as a dotted quad when the C resolver reads it as an IPv4 address
    (`127.1`, `0x7f.0.0.1`, `2130706433`, `017700000001`), else None."""
    if not name or not all(c in "0123456789abcdefx." for c in name):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(name))
    except OSError:
        return None


def literal_refusal(host: str) -> str | None:
    """Why `host` is refused without resolving it (an IP literal or localhost), or None."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"callback_url: {host} is this machine; set {ALLOW_SETTING} to allow it"
    try:
        blocked = _not_global(_ipv4_shorthand(name) or name)
    except ValueError:
        return None  # a name: checked when the webhook is delivered
    if blocked:
        return f"callback_url: {host} is not a public address; set {ALLOW_SETTING} to allow it"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def checked_addresses(
    host: str, port: int, *, allow_private: bool, resolve: Resolver = system_resolver
) -> list[str]:
    """The addresses a webhook to `host` may connect to, from one lookup, in its order.

    Raises CallbackRefused when any address is not public (final: asking again gets
    the same answer) and OSError when the name does not resolve (worth a retry).
    """
    if not allow_private:
        refusal = literal_refusal(host)
        if refusal is not None:
            raise CallbackRefused(refusal)
    literal = _literal(host)
    addresses = [literal] if literal is not None else list(dict.fromkeys(resolve(host, port)))
    if not addresses:
        raise OSError(f"{host} has no address")
    private = sorted({a for a in addresses if _not_global(a)})
    if private and not allow_private:
        raise CallbackRefused(
            f"callback_url: {host} resolves to {', '.join(private)}, not a public address; "
            f"set {ALLOW_SETTING} to allow it"
        )
    return addresses


@dataclass(frozen=True)
class Pinned:
    """A callback URL bound to one checked address."""

    url: httpx.URL  # the address in place of the name: where the connection goes
    host: str  # the Host header: the original name (and port when not the default)
    server_name: str | None  # https: SNI and the name the certificate must carry


def pinned(url: httpx.URL, address: str) -> Pinned:
    """`url` sent to `address`, still named as itself in Host and TLS."""
    name = url.raw_host.decode("ascii")  # IDNA-encoded, as a certificate carries it
    return Pinned(
        url=url.copy_with(host=address.split("%", 1)[0]),
        host=url.netloc.decode("ascii"),
        server_name=name if url.scheme == "https" else None,
    )


def post_callback(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_private: bool,
    resolve: Resolver = system_resolver,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Response:
    """POST `body` to `url` at an address checked by the one lookup of its host.

    Addresses are tried in the resolver's order while a connection cannot be made
    (nothing was sent yet), as a plain connect would; redirects are not followed
    (one could lead anywhere). Raises CallbackRefused, OSError (lookup) and
    httpx.HTTPError.
    """
    target = httpx.URL(url)
    host = target.raw_host.decode("ascii")  # IDNA-encoded: what DNS is asked
    port = target.port or (443 if target.scheme == "https" else 80)
    addresses = checked_addresses(host, port, allow_private=allow_private, resolve=resolve)
    with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False) as client:

        def send(address: str) -> httpx.Response:
            pin = pinned(target, address)
            extensions = {} if pin.server_name is None else {"sni_hostname": pin.server_name}
            return client.post(
                pin.url, content=body, headers={**headers, "Host": pin.host}, extensions=extensions
            )

        for address in addresses[:-1]:
            try:
                return send(address)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue  # not connected, nothing sent: the next checked address
        return send(addresses[-1])

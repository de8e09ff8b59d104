"""Where webhooks may go: public addresses only, pinned to the one lookup's answer.

No DNS and no network: resolvers are passed in, and POSTs go to an httpx.MockTransport
that records where each connection would have gone.
"""

from __future__ import annotations

import httpx
import pytest

from spectrum.shared.callbacks import checked_addresses, literal_refusal, post_callback
from spectrum.shared.errors import CallbackRefused

PUBLIC = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "[::1]",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:a9fe:a9fe",  # IPv4-mapped 169.254.169.254
        # IPv6 forms that embed a private IPv4 address:
        "64:ff9b::7f00:1",  # NAT64 well-known prefix, 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64, 169.254.169.254
        "64:ff9b:1::a00:1",  # NAT64 local-use prefix, 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "::a9fe:a9fe",  # IPv4-compatible, 169.254.169.254
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT)
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        # IPv4 shorthands the C resolver accepts:
        "127.1",
        "2130706433",
        "0x7f.0.0.1",
        "017700000001",
        "0xa9fea9fe",
    ],
)
def test_private_literals_are_refused_without_a_lookup(host: str) -> None:
    reason = literal_refusal(host)
    assert reason is not None
    assert "SPECTRUM_WEBHOOK_ALLOW_PRIVATE=true" in reason


@pytest.mark.parametrize(
    "host",
    [
        "8.8.8.8",
        "2001:4860:4860::8888",
        "hooks.example.com",
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "134744072",  # 8.8.8.8 as one number
        "cafe.example",  # hex letters, but a name
    ],
)
def test_public_literals_and_names_pass_the_submit_check(host: str) -> None:
    assert literal_refusal(host) is None


class Lookups:
    """A resolver that answers from a script, one answer per lookup (rebinding)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.answers[len(self.asked) - 1]


class Recorder:
    """A transport that answers `status` and keeps each request it was given."""

    def __init__(self, status: int = 200, refuse: frozenset[str] = frozenset()) -> None:
        self.status = status
        self.refuse = refuse  # hosts whose connection fails
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host in self.refuse:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(self.status, headers={"Location": "http://127.0.0.1/"})


def post(url: str, resolve: Lookups, recorder: Recorder, *, allow_private: bool = False) -> int:
    answer = post_callback(
        url,
        b"{}",
        {"Content-Type": "application/json"},
        timeout=5,
        allow_private=allow_private,
        resolve=resolve,
        transport=recorder.transport,
    )
    return answer.status_code


@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "2002:a00:1::1", "::ffff:0:a00:1"])
def test_a_name_resolving_to_an_embedded_private_address_is_refused(address: str) -> None:
    with pytest.raises(CallbackRefused, match="not a public address"):
        checked_addresses("hooks.example.com", 443, allow_private=False, resolve=Lookups([address]))


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    resolve = Lookups([PUBLIC, "10.0.0.7"])
    with pytest.raises(CallbackRefused) as refused:
        checked_addresses("hooks.example.com", 443, allow_private=False, resolve=resolve)
    assert resolve.asked == [("hooks.example.com", 443)]
    assert "10.0.0.7" in refused.value.detail
    assert PUBLIC not in refused.value.detail
    assert "SPECTRUM_WEBHOOK_ALLOW_PRIVATE=true" in refused.value.detail


def test_public_addresses_are_kept_in_the_resolvers_order_once_each() -> None:
    resolve = Lookups([PUBLIC_V6, PUBLIC, PUBLIC_V6])
    addresses = checked_addresses("hooks.example.com", 80, allow_private=False, resolve=resolve)
    assert addresses == [PUBLIC_V6, PUBLIC]


def test_a_lookup_failure_is_an_oserror_left_to_the_retries() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(OSError, match="not known"):
        checked_addresses("hooks.example.com", 443, allow_private=False, resolve=resolve)


@pytest.mark.parametrize("allow_private", [False, True])
def test_a_literal_is_not_looked_up(allow_private: bool) -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise AssertionError("no lookup for a literal")

    if allow_private:
        assert checked_addresses("169.254.169.254", 80, allow_private=True, resolve=resolve) == [
            "169.254.169.254"
        ]
    else:
        with pytest.raises(CallbackRefused):
            checked_addresses("169.254.169.254", 80, allow_private=False, resolve=resolve)


def test_the_post_goes_to_the_checked_address_not_to_a_second_lookup() -> None:
    # DNS rebinding: public for the check, loopback for whoever asks next.
    resolve = Lookups([PUBLIC], ["127.0.0.1"])
    recorder = Recorder()
    assert post("https://hooks.example.com/hook?x=1", resolve, recorder) == 200
    assert resolve.asked == [("hooks.example.com", 443)]
    [sent] = recorder.requests
    assert (sent.url.scheme, sent.url.host, sent.url.port) == ("https", PUBLIC, None)
    assert sent.url.raw_path == b"/hook?x=1"
    assert sent.headers["host"] == "hooks.example.com"
    # TLS: SNI and the certificate check are for the name, not the address.
    assert sent.extensions["sni_hostname"] == "hooks.example.com"


def test_a_port_and_an_ipv6_address_are_kept() -> None:
    recorder = Recorder()
    post("http://hooks.example.com:8080/h", Lookups([PUBLIC_V6]), recorder)
    [sent] = recorder.requests
    assert sent.url.netloc == f"[{PUBLIC_V6}]:8080".encode()
    assert sent.headers["host"] == "hooks.example.com:8080"
    assert "sni_hostname" not in sent.extensions  # plain http: no TLS


def test_a_name_that_rebinds_to_private_first_is_refused_and_nothing_is_sent() -> None:
    recorder = Recorder()
    with pytest.raises(CallbackRefused):
        post("https://hooks.example.com/h", Lookups(["127.0.0.1"], [PUBLIC]), recorder)
    assert recorder.requests == []


def test_allowing_private_addresses_lifts_the_check_but_still_pins() -> None:
    resolve = Lookups(["127.0.0.1"], ["10.9.9.9"])
    recorder = Recorder()
    assert post("http://receiver.test:9000/h", resolve, recorder, allow_private=True) == 200
    assert len(resolve.asked) == 1
    [sent] = recorder.requests
    assert sent.url.host == "127.0.0.1"
    assert sent.headers["host"] == "receiver.test:9000"


def test_the_next_checked_address_is_tried_when_one_does_not_connect() -> None:
    other = "93.184.215.15"
    recorder = Recorder(refuse=frozenset({PUBLIC}))
    assert post("http://hooks.example.com/h", Lookups([PUBLIC, other]), recorder) == 200
    assert [r.url.host for r in recorder.requests] == [PUBLIC, other]
    failing = Recorder(refuse=frozenset({PUBLIC}))
    with pytest.raises(httpx.ConnectError):
        post("http://hooks.example.com/h", Lookups([PUBLIC]), failing)


def test_a_redirect_is_not_followed() -> None:
    recorder = Recorder(status=302)
    assert post("http://hooks.example.com/h", Lookups([PUBLIC]), recorder) == 302
    assert len(recorder.requests) == 1

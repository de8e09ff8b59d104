"""Where webhooks may go: public addresses only (no DNS: resolvers are passed in)."""

from __future__ import annotations

import pytest

from shared.callbacks import delivery_refusal, literal_refusal


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
    ],
)
def test_private_literals_are_refused_without_a_lookup(host: str) -> None:
    reason = literal_refusal(host)
    assert reason is not None
    assert "SPECTRUM_WEBHOOK_ALLOW_PRIVATE=true" in reason


@pytest.mark.parametrize("host", ["8.8.8.8", "2001:4860:4860::8888", "hooks.example.com"])
def test_public_literals_and_names_pass_the_submit_check(host: str) -> None:
    assert literal_refusal(host) is None


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery() -> None:
    def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("hooks.example.com", 443)
        return ["93.184.215.14", "10.0.0.7"]

    reason = delivery_refusal("hooks.example.com", 443, resolve)
    assert reason is not None
    assert "10.0.0.7" in reason
    assert "93.184.215.14" not in reason


def test_a_name_resolving_to_public_addresses_is_delivered() -> None:
    assert delivery_refusal("hooks.example.com", 80, lambda h, p: ["93.184.215.14"]) is None


def test_a_lookup_failure_is_left_to_the_post_and_its_retries() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    assert delivery_refusal("hooks.example.com", 443, resolve) is None


def test_a_private_literal_is_refused_at_delivery_too() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise AssertionError("no lookup for a literal")

    assert delivery_refusal("169.254.169.254", 80, resolve) is not None

"""Webhook signatures: ours, and the worker's deliveries, are what the standardwebhooks
package's verifier accepts."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from spectrum.shared.config import Settings
from spectrum.shared.jobs import JobSummary, new_job_id, new_record
from spectrum.shared.signing import ID_HEADER, SIGNATURE_HEADER, sign, signed_headers, signing_keys
from spectrum.worker.jobs import deliver_webhook

BODY = b'{"id":"5c0f","state":"succeeded"}'
NEW = "whsec_" + base64.b64encode(b"the new key, 32 bytes long......").decode()
OLD = "whsec_" + base64.b64encode(b"the old key").decode()


def _headers(secret: str, *, message_id: str = "job_5c0f_ended") -> dict[str, str]:
    return signed_headers(signing_keys(secret), message_id, int(time.time()), BODY)


def test_a_whsec_signature_verifies_with_the_standard_verifier() -> None:
    headers = _headers(NEW)

    assert Webhook(NEW).verify(BODY, headers) == {"id": "5c0f", "state": "succeeded"}
    assert headers[ID_HEADER] == "job_5c0f_ended"
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW).verify(BODY + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW).verify(BODY, {**headers, ID_HEADER: "job_other_ended"})


def test_the_signature_matches_the_specifications_example() -> None:
    # The Standard Webhooks specification's worked example (secret, id, time, body).
    [key] = signing_keys("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signed = sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_every_listed_key_signs_so_either_side_of_a_rotation_verifies() -> None:
    headers = _headers(f"{NEW} {OLD}")

    assert len(headers[SIGNATURE_HEADER].split(" ")) == 2
    Webhook(NEW).verify(BODY, headers)
    Webhook(OLD).verify(BODY, headers)


def test_a_stale_timestamp_is_refused_by_the_verifier() -> None:
    headers = signed_headers(signing_keys(NEW), "job_x_ended", int(time.time()) - 3600, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(NEW).verify(BODY, headers)


def test_a_secret_without_whsec_is_one_raw_key_as_before() -> None:
    # An existing SPECTRUM_WEBHOOK_SECRET keeps working: its bytes are the key, whole.
    assert signing_keys("s3cret with spaces") == [b"s3cret with spaces"]
    Webhook(b"s3cret with spaces").verify(BODY, _headers("s3cret with spaces"))


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (f"{NEW} plain", "must start with whsec_"),
        ("whsec_not*base64", "not valid base64"),
        ("whsec_", "empty"),
    ],
)
def test_a_malformed_key_list_stops_the_settings(secret: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        signing_keys(secret)
    with pytest.raises(ValidationError, match=reason):
        Settings(webhook_secret=secret)


def test_an_empty_secret_is_unset() -> None:
    assert Settings(webhook_secret="").webhook_secret is None
    secret = Settings(webhook_secret=NEW).webhook_secret
    assert secret is not None
    assert secret.get_secret_value() == NEW


class OneJob:
    """The part of the worker's JobStore a delivery uses: one ended job, its attempts."""

    def __init__(self, job_id: str) -> None:
        record = new_record(
            job_id=job_id,
            model="m",
            labels=["NEG", "POS"],
            total=2,
            chunk_size=32,
            fingerprint="f",
            callback_url="https://hooks.example.com/h",
            now=time.time(),
        )
        self.job = JobSummary.from_hash({**record, "state": "succeeded", "done": "2"})
        self.attempts: list[str] = []

    def summary(self, job_id: str) -> JobSummary:
        return self.job

    def webhook_attempt(
        self, job_id: str, *, status: int | None, error: str | None, outcome: str
    ) -> None:
        self.attempts.append(outcome)


def test_each_delivery_try_is_signed_afresh_under_one_message_id() -> None:
    job_id = new_job_id()
    store = OneJob(job_id)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500 if len(sent) == 1 else 200)

    settings = Settings(webhook_secret=f"{NEW} {OLD}")
    for last_try in (False, True):
        deliver_webhook(
            settings,
            store,  # type: ignore[arg-type]
            job_id,
            last_try=last_try,
            resolve=lambda host, port: ["93.184.215.14"],
            transport=httpx.MockTransport(answer),
        )

    assert store.attempts == ["pending", "delivered"]
    assert [request.headers[ID_HEADER] for request in sent] == [f"job_{job_id}_ended"] * 2
    for request in sent:
        for key in (NEW, OLD):  # either side of the rotation verifies every try
            summary = Webhook(key).verify(request.content, dict(request.headers))
            assert summary["id"] == job_id
        assert "webhook" not in summary

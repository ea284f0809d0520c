"""Standard Webhooks signatures: the specification's published vector, headers, and the
receiver's checks (tolerance, rotation, tampering)."""

from __future__ import annotations

import base64
import re

import pytest

from relay.signing import SignatureError, parse_secret, sign, verify, webhook_headers

# The vector of the standard-webhooks reference libraries' tests (test_sign_function in
# libraries/python/tests/test_webhooks.py, and the same in the other languages).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

KEY = parse_secret(VECTOR_SECRET)


def test_the_published_vector_signs_as_published() -> None:
    assert sign(KEY, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_published_vector_verifies() -> None:
    headers = {
        "webhook-id": VECTOR_MSG_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    verify(KEY, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 10)


def test_the_headers_of_a_delivery() -> None:
    headers = webhook_headers(KEY, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert headers == {
        "webhook-id": VECTOR_MSG_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": VECTOR_SIGNATURE,
        "content-type": "application/json",
    }


def test_secrets_decode_with_or_without_padding_and_are_checked() -> None:
    assert base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == KEY
    assert len(KEY) == 24
    unpadded = base64.b64encode(bytes(range(25))).decode().rstrip("=")
    assert parse_secret("whsec_" + unpadded) == bytes(range(25))
    with pytest.raises(ValueError, match="whsec_"):
        parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    with pytest.raises(ValueError, match="base64"):
        parse_secret("whsec_not*base64!")
    with pytest.raises(ValueError, match=r"24 to 64 bytes \(got 16\)"):
        parse_secret("whsec_" + base64.b64encode(b"x" * 16).decode())
    with pytest.raises(ValueError, match=r"got 65"):
        parse_secret("whsec_" + base64.b64encode(b"x" * 65).decode())


def test_secret_errors_do_not_show_the_secret() -> None:
    encoded = base64.b64encode(b"s3cr3t-but-too-short").decode()
    with pytest.raises(ValueError) as caught:
        parse_secret("whsec_" + encoded)
    assert encoded not in str(caught.value)


def signed(body: bytes = b'{"a":1}', timestamp: int = 1_700_000_000) -> dict[str, str]:
    return webhook_headers(KEY, "msg_1", timestamp, body)


def test_verify_accepts_any_header_case_and_a_rotated_signature_list() -> None:
    headers = {key.upper(): value for key, value in signed().items()}
    verify(KEY, headers, b'{"a":1}', now=1_700_000_000)
    old = base64.b64encode(b"\0" * 32).decode()
    headers["WEBHOOK-SIGNATURE"] = f"v1,{old} v1a,xyz= {headers['WEBHOOK-SIGNATURE']}"
    verify(KEY, headers, b'{"a":1}', now=1_700_000_000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="}, "no webhook"),
        ({"webhook-signature": "v2,abc"}, "no webhook-signature matches"),
        ({"webhook-signature": "v1,%%%"}, "no webhook-signature matches"),
        ({"webhook-id": "msg_2"}, "no webhook-signature matches"),
        ({"webhook-timestamp": "soon"}, "not unix seconds"),
        ({"webhook-timestamp": "-5"}, "not unix seconds"),
    ],
)
def test_verify_refuses_changed_headers(change: dict[str, str], message: str) -> None:
    headers = signed() | change
    with pytest.raises(SignatureError, match=message):
        verify(KEY, headers, b'{"a":1}', now=1_700_000_000)


def test_verify_refuses_a_changed_body_or_another_key() -> None:
    with pytest.raises(SignatureError):
        verify(KEY, signed(), b'{"a":2}', now=1_700_000_000)
    other = parse_secret("whsec_" + base64.b64encode(b"k" * 32).decode())
    with pytest.raises(SignatureError):
        verify(other, signed(), b'{"a":1}', now=1_700_000_000)


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_refuses_missing_headers(header: str) -> None:
    headers = signed()
    del headers[header]
    with pytest.raises(SignatureError, match=f"missing header {header}"):
        verify(KEY, headers, b'{"a":1}', now=1_700_000_000)


def test_verify_refuses_timestamps_outside_the_tolerance() -> None:
    headers = signed(timestamp=1_700_000_000)
    verify(KEY, headers, b'{"a":1}', now=1_700_000_300)
    verify(KEY, headers, b'{"a":1}', now=1_699_999_700)
    with pytest.raises(SignatureError, match="in the past"):
        verify(KEY, headers, b'{"a":1}', now=1_700_000_301)
    with pytest.raises(SignatureError, match="in the future"):
        verify(KEY, headers, b'{"a":1}', now=1_699_999_699)
    with pytest.raises(SignatureError, match="in the past"):
        verify(KEY, headers, b'{"a":1}', now=1_700_000_011, tolerance_s=10)


def test_message_ids_with_dots_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match=re.escape("'.'")):
        sign(KEY, "msg.1", 1, b"{}")
    with pytest.raises(ValueError, match="unix seconds"):
        sign(KEY, "msg_1", -1, b"{}")

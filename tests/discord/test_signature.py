"""Interaction requests are accepted only when Discord signed them recently."""

import time

import pytest
from nacl.signing import SigningKey

from discord_app.signature import InvalidSignature, verify_request

BODY = b'{"type":1,"id":"123","token":"abc"}'
NOW = 1_700_000_000


@pytest.fixture
def key() -> SigningKey:
    """A fresh Ed25519 key pair standing in for the application's."""
    return SigningKey.generate()


def public_hex(key: SigningKey) -> str:
    return key.verify_key.encode().hex()


def sign(key: SigningKey, timestamp: str, body: bytes = BODY) -> str:
    return key.sign(timestamp.encode() + body).signature.hex()


def rejection(
    key: SigningKey, signature: str | None, timestamp: str | None, body: bytes = BODY
) -> str:
    with pytest.raises(InvalidSignature) as info:
        verify_request(public_hex(key), signature, timestamp, body, now=NOW)
    return info.value.reason


def test_it_accepts_a_valid_signature(key):
    verify_request(public_hex(key), sign(key, str(NOW)), str(NOW), BODY, now=NOW)


def test_it_accepts_a_valid_signature_against_the_real_clock(key):
    timestamp = str(int(time.time()))
    verify_request(public_hex(key), sign(key, timestamp), timestamp, BODY)


def test_it_accepts_uppercase_hex(key):
    verify_request(public_hex(key).upper(), sign(key, str(NOW)).upper(), str(NOW), BODY, now=NOW)


def test_it_rejects_a_signature_made_with_another_key(key):
    forged = sign(SigningKey.generate(), str(NOW))
    assert rejection(key, forged, str(NOW)) == "signature does not match"


def test_it_rejects_a_body_changed_after_signing(key):
    signature = sign(key, str(NOW))
    assert (
        rejection(key, signature, str(NOW), BODY.replace(b"abc", b"abd"))
        == "signature does not match"
    )


def test_it_rejects_a_timestamp_changed_after_signing(key):
    signature = sign(key, str(NOW))
    assert rejection(key, signature, str(NOW + 1)) == "signature does not match"


def test_it_verifies_the_raw_bytes_not_reencoded_json(key):
    spaced = b'{"type": 1, "id": "123", "token": "abc"}'
    signature = sign(key, str(NOW), spaced)
    verify_request(public_hex(key), signature, str(NOW), spaced, now=NOW)
    assert rejection(key, signature, str(NOW), BODY) == "signature does not match"


def test_it_rejects_a_stale_timestamp_even_when_correctly_signed(key):
    stale = str(NOW - 6 * 60)
    assert rejection(key, sign(key, stale), stale) == "timestamp is too old"


def test_it_accepts_a_timestamp_just_inside_the_window(key):
    recent = str(NOW - 299)
    verify_request(public_hex(key), sign(key, recent), recent, BODY, now=NOW)


def test_it_rejects_a_timestamp_in_the_future(key):
    future = str(NOW + 6 * 60)
    assert rejection(key, sign(key, future), future) == "timestamp is in the future"


def test_it_rejects_garbled_hex(key):
    garbled = "zz" + sign(key, str(NOW))[2:]
    assert rejection(key, garbled, str(NOW)) == "signature is not hex"


def test_it_rejects_hex_with_spaces_that_fromhex_would_accept(key):
    signature = sign(key, str(NOW))
    assert rejection(key, signature[:2] + " " + signature[3:], str(NOW)) == "signature is not hex"


def test_it_rejects_a_signature_of_the_wrong_length(key):
    assert rejection(key, sign(key, str(NOW))[:-2], str(NOW)) == "signature has the wrong length"
    assert rejection(key, sign(key, str(NOW)) + "00", str(NOW)) == "signature has the wrong length"


@pytest.mark.parametrize("signature, timestamp", [(None, "1"), ("ab", None), ("", "1"), ("ab", "")])
def test_it_rejects_missing_headers(key, signature, timestamp):
    assert rejection(key, signature, timestamp).startswith("missing")


@pytest.mark.parametrize("timestamp", ["soon", "1.5", "-1", " 1700000000", "١٧٠٠٠٠٠٠٠٠"])
def test_it_rejects_a_timestamp_that_is_not_an_integer(key, timestamp):
    assert rejection(key, sign(key, timestamp), timestamp) == "timestamp is not an integer"


def test_it_reports_a_bad_public_key_as_a_configuration_error(key):
    with pytest.raises(ValueError, match="public key"):
        verify_request("not-a-key", sign(key, str(NOW)), str(NOW), BODY, now=NOW)

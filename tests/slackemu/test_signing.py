"""Tests for slackemu.signing: the emulator signs requests the way the app verifies them.

The signature is produced by the emulator (its ``sign`` method and the module
function) and checked with slack_sdk's ``SignatureVerifier.is_valid``, the
check slack-bolt runs on every request the app receives.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from slack_sdk.signature import SignatureVerifier

from slackemu import SlackEmulator, sign

SECRET = "test-signing-secret"
BODY = "payload=%7B%22type%22%3A%22block_actions%22%2C%22text%22%3A%22caf%C3%A9%22%7D"


def test_emulator_signature_verifies_with_slack_sdk_and_not_with_another_secret() -> None:
    emu = SlackEmulator(signing_secret=SECRET)  # signing needs no running server
    timestamp = str(int(time.time()))
    signature = emu.sign(BODY, timestamp)
    assert SignatureVerifier(SECRET).is_valid(body=BODY, timestamp=timestamp, signature=signature)
    assert not SignatureVerifier("another-secret").is_valid(
        body=BODY, timestamp=timestamp, signature=signature
    )


def test_secret_override_and_module_function_agree() -> None:
    emu = SlackEmulator(signing_secret=SECRET)
    timestamp = int(time.time())
    forged = emu.sign(BODY.encode(), timestamp, secret="not-the-secret")
    assert forged == sign("not-the-secret", timestamp, BODY)
    assert not SignatureVerifier(SECRET).is_valid(
        body=BODY, timestamp=str(timestamp), signature=forged
    )
    assert SignatureVerifier(SECRET).is_valid(
        body=BODY.encode(), timestamp=str(timestamp), signature=sign(SECRET, timestamp, BODY)
    )


def test_wire_format_is_slack_v0() -> None:
    # Slack's documented scheme, computed independently of slack_sdk.
    expected = hmac.new(SECRET.encode(), f"v0:1531420618:{BODY}".encode(), hashlib.sha256)
    assert sign(SECRET, 1531420618, BODY) == f"v0={expected.hexdigest()}"
    assert sign(SECRET, "1531420618", BODY.encode()) == f"v0={expected.hexdigest()}"
    raw = "text=café ✓"  # bytes bodies are read as UTF-8, as Slack sends them
    assert sign(SECRET, 1, raw.encode()) == sign(SECRET, "1", raw)


def test_empty_secret_is_refused_like_the_apps_verifier_does() -> None:
    with pytest.raises(ValueError):
        sign("", 1531420618, BODY)

"""Slack request signing, from the sender's side.

The emulator plays Slack when it delivers interaction payloads, so it must
sign them exactly as Slack does (v0 HMAC-SHA256 over ``v0:{ts}:{body}``); the
app under test then verifies them with its real slack-bolt/slack_sdk code.
The signature is computed by slack_sdk's own :class:`SignatureVerifier`, the
same code that verifies it on the app's side, so the two cannot drift apart.
"""

from __future__ import annotations

from slack_sdk.signature import SignatureVerifier

__all__ = ["sign"]


def sign(signing_secret: str, timestamp: int | str, body: str | bytes) -> str:
    """Return the ``X-Slack-Signature`` header value for ``body`` sent at ``timestamp``.

    Raises ``ValueError`` for an empty ``signing_secret``, which slack_sdk (and
    so the app's verifier) refuses too.
    """
    verifier = SignatureVerifier(signing_secret)
    signature = verifier.generate_signature(timestamp=str(timestamp), body=body)
    if signature is None:  # slack_sdk returns None only for a missing timestamp
        raise ValueError("a timestamp is required to sign a request")
    return signature

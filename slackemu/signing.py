"""Slack request signing, from the sender's side.

The emulator plays Slack when it delivers interaction payloads, so it must
sign them exactly as Slack does (v0 HMAC-SHA256 over ``v0:{ts}:{body}``); the
app under test then verifies them with its real slack-bolt/slack_sdk code.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["sign"]


def sign(signing_secret: str, timestamp: int | str, body: str | bytes) -> str:
    """Return the ``X-Slack-Signature`` header value for ``body`` sent at ``timestamp``."""
    raw = body.decode("utf-8") if isinstance(body, bytes) else body
    basestring = f"v0:{timestamp}:{raw}".encode()
    digest = hmac.new(signing_secret.encode(), basestring, hashlib.sha256).hexdigest()
    return f"v0={digest}"

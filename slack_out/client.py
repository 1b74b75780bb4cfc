"""The outgoing Slack client: slack_sdk's WebClient with its retry handlers.

429 answers are retried after their Retry-After, 5xx and dropped connections with backoff. A
retry sleeps inside the call, which is why only the outbox relay calls Slack, never the
listener's 3-second path (except views.open, whose trigger_id lives only 3 seconds).
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from config.settings import Settings


class SlackNotConfigured(RuntimeError):
    pass


def make_client(settings: Settings, *, retries: int = 2, timeout: int = 10) -> WebClient:
    if settings.slack_bot_token is None:
        raise SlackNotConfigured("SLACK_BOT_TOKEN is not set")
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=timeout,
    )
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=retries),
        RateLimitErrorRetryHandler(max_retry_count=retries),
        ServerErrorRetryHandler(max_retry_count=retries),
    ]
    return client

"""The outgoing Slack client: slack_sdk's WebClient, retrying only what costs no waiting.

A dropped connection is retried at once (a keep-alive connection Slack closed). A 429 is *not*
retried here: slack_sdk's RateLimitErrorRetryHandler would sleep its Retry-After inside the
call, holding every other channel behind one; the relay honours Retry-After per method and
channel instead (`slack_out.relay.RateLimits`). 5xx answers are likewise left to the relay's
per-row back-off. So a call returns within its timeout, which is why the listener's 3-second
path may make the one call it must (views.open, whose trigger_id lives only 3 seconds).
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import (
    FixedValueRetryIntervalCalculator,
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
        ConnectionErrorRetryHandler(
            max_retry_count=retries,
            interval_calculator=FixedValueRetryIntervalCalculator(fixed_internal=0.05),
        ),
    ]
    return client

"""The App Home opens: queue the person's Home (`views.publish`) and wake the dispatcher.

Slack sends `app_home_opened` each time someone looks at the app's Home tab; the Home is
queued in one short transaction and goes out through the outbox like every other Slack call
(the relay renders it from the register as it sends it), so a Slack outage never fails the
event (Slack would retry it). The Messages
tab sends the same event with `tab: messages`; that one shows nothing of ours and is ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from slack_in.decide import wake
from slack_in.deps import ListenerDeps
from tasks import home

log = logging.getLogger("pilotgate.listener")

HOME_EVENT = "app_home_opened"


def home_opened(ack: Ack, event: dict[str, Any], deps: ListenerDeps) -> None:
    ack()
    user_id = event.get("user")
    if event.get("tab", "home") != "home" or not isinstance(user_id, str) or not user_id:
        return
    now = deps.clock()
    with deps.transaction() as session:
        home.publish_home(session, user_id, now)
    log.info("app home opened by %s; views.publish queued", user_id)
    wake(deps)


def register(app: App, deps: ListenerDeps) -> None:
    @app.event(HOME_EVENT)
    def on_home_opened(ack: Ack, event: dict[str, Any]) -> None:
        home_opened(ack, event, deps)

"""The relay tests' world: a register (SQLite and PostgreSQL), the Slack emulator on loopback, the
real slack_sdk client and the real relay, and a clock the test moves (the relay's backoffs and
Retry-After holds are times in the register)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.settings import Settings
from lifecycle.gates import plan_gate
from lifecycle.policy import Policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from slack_out import messages
from slack_out.client import make_client
from slack_out.relay import RateLimits, RelayReport, relay_outbox
from slackemu import SlackEmulator
from store import gates, outbox, pilots
from store.db import Database
from store.models import OutboxMessage, SignoffRequest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "xoxb-relay-test-token"
OWNER = "U0BIZ0001"


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class World:
    db: Database
    policy: Policy
    emu: SlackEmulator
    clock: Clock = field(default_factory=Clock)
    token: str = TOKEN
    limits: RateLimits = field(default_factory=RateLimits)

    def settings(self) -> Settings:
        return Settings(
            _env_file=None,
            PILOTGATE_DATABASE_URL=self.db.url,  # type: ignore[call-arg]
            SLACK_API_URL=self.emu.api_url,
            SLACK_BOT_TOKEN=self.token,
            SLACK_SIGNING_SECRET="relay-test-secret",
        )

    def relay(self, **kwargs: Any) -> RelayReport:
        client = make_client(self.settings(), retries=1)
        return relay_outbox(self.db, client, self.clock, limits=self.limits, **kwargs)

    def post(self, channel: str, text: str) -> int:
        with self.db.session() as session:
            row = outbox.enqueue(
                session, "chat.postMessage", {"channel": channel, "text": text}, now=self.clock()
            )
        assert row is not None
        return row

    def dm(self, user: str, text: str) -> None:
        with self.db.session() as session:
            messages.notify(session, user, text, "details", self.clock())

    def ask(self) -> tuple[str, list[SignoffRequest]]:
        """A helpdesk pilot at its proposal gate, its sign-off asks queued (PMO1, PMO2, FIN)."""
        now = self.clock()
        proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
        with self.db.session() as session:
            pilot = pilots.create_pilot(session, proposal, self.policy, actor="test", now=now)
            plan = plan_gate(self.policy, proposal, Stage.PROPOSAL, Stage.PILOT)
            gate = gates.open_gate(
                session,
                pilot.id,
                plan,
                deadline=now + timedelta(days=7),
                escalation_role=None,
                now=now,
                actor="test",
                evidence=None,
            )
            requests = list(gates.requests_for(session, gate.id))
            for request in requests:
                messages.ask(session, pilot, gate, request, now, policy=self.policy)
            session.expunge_all()
        return pilot.id, requests

    def rows(self) -> list[OutboxMessage]:
        with self.db.session() as session:
            found = list(
                session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
            )
            session.expunge_all()
            return found

    def calls(self, method: str, channel: str | None = None) -> list[Any]:
        return [
            c
            for c in self.emu.calls
            if c.method == method and (channel is None or c.params.get("channel") == channel)
        ]

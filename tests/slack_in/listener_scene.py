"""The listener tests' world: a pilot asked in the Slack emulator, and the real listener.

Everything is real: slack_sdk posts the asks to the emulator over loopback HTTP, the emulator
sends signed interaction payloads to the bolt listener served by uvicorn, and the decisions
land in SQLite and PostgreSQL (the `db` fixture runs each test on both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from config.clock import utcnow
from config.settings import Settings
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from slack_in.server import ListenerThread
from slack_out.client import make_client
from slack_out.relay import RelayReport, relay_outbox
from slackemu import SlackEmulator
from store import gates, pilots
from store.db import Database
from tasks.gates import open_gate
from tasks.inputs import OpenGateInput
from tasks.runtime import Runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "xoxb-pilotgate-listener-test"
SECRET = "pilotgate-listener-signing-secret"
PROPOSER = "U0PRO0001"
OWNER = "U0BIZ0001"
PMO1, PMO2, FIN = "U0PMO0001", "U0PMO0002", "U0FIN0001"


@dataclass(frozen=True)
class Ask:
    """One sign-off request and where its message landed in Slack."""

    id: int
    approver: str
    role: str
    channel: str
    ts: str


@dataclass
class Scene:
    db: Database
    runtime: Runtime
    emu: SlackEmulator
    listener: ListenerThread
    wakes: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.listener.url

    def propose_and_ask(self, proposal: Proposal, policy: Policy) -> tuple[str, int]:
        """Propose a pilot, open its proposal gate (the task's body, no Prefect) and deliver
        the asks to the emulator."""
        with self.db.session() as session:
            pilot_id = pilots.create_pilot(
                session, proposal, policy, actor=PROPOSER, now=utcnow()
            ).id
        opened = open_gate.fn(OpenGateInput(pilot_id=pilot_id, stage=Stage.PROPOSAL))
        report = self.relay()
        assert report.sent >= len(opened.asked) and not report.errors, report
        assert all(a.ts for a in self.asks(opened.gate_id).values())
        return pilot_id, opened.gate_id

    def relay(self) -> RelayReport:
        return relay_outbox(
            self.db, make_client(self.runtime.settings), utcnow, policy=self.runtime.policy
        )

    def asks(self, gate_id: int) -> dict[str, Ask]:
        with self.db.session() as session:
            rows = gates.requests_for(session, gate_id)
            return {
                r.approver: Ask(r.id, r.approver, r.role, str(r.channel), str(r.message_ts))
                for r in rows
            }

    def click(
        self, user: str, ask: Ask, action: str = "pilotgate_approve", **kwargs: Any
    ) -> httpx.Response:
        """`user` clicks a button of the message that asked `ask.approver`."""
        return self.emu.click(self.url, user, ask.channel, ask.ts, action, **kwargs)

    def count(self, model: Any, *where: Any) -> int:
        with self.db.session() as session:
            query = select(func.count()).select_from(model)
            if where:
                query = query.where(*where)
            return int(session.execute(query).scalar_one())


def make_runtime(db: Database, policy: Policy, emu: SlackEmulator) -> Runtime:
    settings = Settings(
        _env_file=None,
        PILOTGATE_DATABASE_URL=db.url,  # type: ignore[call-arg]
        SLACK_API_URL=emu.api_url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
    )
    return Runtime(settings, db=db, policy=policy)

"""The web tests' world: the pages and the Slack listener served together by uvicorn on
loopback, signed in through the Slack emulator's Sign in with Slack.

`serve_site` binds a port first (the pages must know their own address: redirect URI, Origin
check), then serves one Starlette app made as `pilotgate serve` makes it: the listener's routes
(`/slack/events`, `/healthz`) followed by `web.app.create_routes(...)`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, select
from starlette.applications import Starlette

from config.clock import utcnow
from config.settings import Settings
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal, load_proposal
from lifecycle.stages import Stage
from slack_in.server import create_asgi_app
from slack_out.client import make_client
from slack_out.relay import RelayReport, relay_outbox
from slackemu import SlackEmulator
from store import gates, pilots
from store.db import Database
from tasks.runtime import Runtime
from web.app import create_routes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "xoxb-pilotgate-web-test"
SECRET = "pilotgate-web-signing-secret"
PROPOSER, OWNER = "U0PRO0001", "U0BIZ0001"
PMO1, PMO2, FIN = "U0PMO0001", "U0PMO0002", "U0FIN0001"
#: in the workspace, in no policy role and named in no proposal.
OUTSIDER = "U0OUT0001"


class ServerThread:
    """uvicorn serving an ASGI app on 127.0.0.1 in a background thread."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, app: Any, timeout: float = 10.0) -> ServerThread:
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._server = server

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[self._sock]))
            except BaseException as exc:
                self._error = exc
            finally:
                self._sock.close()

        self._thread = threading.Thread(target=run, name=f"web:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(10)
        self._sock.close()


def web_settings(base: Settings, emu: SlackEmulator, base_url: str, **changes: Any) -> Settings:
    """`base` plus what the pages need: their address and the emulator as Slack."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "slack_api_url": emu.api_url,
        "slack_client_id": emu.client_id,
        "slack_client_secret": SecretStr(emu.client_secret),
        "slack_openid_authorize_url": emu.openid_authorize_url,
        "slack_team_id": emu.team_id,
    }
    values.update(changes)
    return base.model_copy(update=values)


def serve_site(
    runtime: Runtime,
    emu: SlackEmulator,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_wake: Callable[[], None] | None = None,
    **changes: Any,
) -> tuple[ServerThread, Runtime]:
    """Listener + pages on one port; returns the server and the runtime the pages use."""
    server = ServerThread()
    base_url = changes.pop("base_url", server.base_url)
    settings = web_settings(runtime.settings, emu, base_url, **changes)
    site_runtime = Runtime(settings, db=runtime.db, policy=runtime.policy)
    listener = create_asgi_app(site_runtime, on_wake, clock=clock)
    app = Starlette(
        routes=[*listener.routes, *create_routes(site_runtime, clock=clock, on_wake=on_wake)]
    )
    return server.start(app), site_runtime


def sign_in(base_url: str, user: str, **client_args: Any) -> httpx.Client:
    """An HTTP client signed in as `user` through the emulator (login_hint names them)."""
    client = httpx.Client(base_url=base_url, follow_redirects=True, timeout=20, **client_args)
    response = client.get(f"/signin?{urlencode({'login_hint': user})}")
    assert response.status_code == 200, response.text
    assert "pilotgate_session" in client.cookies, "no session after signing in"
    return client


@dataclass
class Site:
    db: Database
    runtime: Runtime
    emu: SlackEmulator
    server: ServerThread
    wakes: list[float] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def events_url(self) -> str:
        return self.base_url + "/slack/events"

    def propose(self, example: str = "helpdesk-assistant", **changes: Any) -> str:
        proposal: Proposal = load_proposal(EXAMPLES / f"{example}.yaml")
        if changes:
            proposal = proposal.model_copy(update=changes)
        with self.db.session() as session:
            return pilots.create_pilot(
                session, proposal, self.runtime.policy, actor=PROPOSER, now=utcnow()
            ).id

    def propose_and_ask(
        self, example: str = "helpdesk-assistant", **changes: Any
    ) -> tuple[str, int]:
        """Propose, open the proposal gate (the task's body, no Prefect), deliver the asks."""
        # Deferred: Prefect loads only for the tests that open a gate.
        from tasks.gates import open_gate
        from tasks.inputs import OpenGateInput

        pilot_id = self.propose(example, **changes)
        opened = open_gate.fn(OpenGateInput(pilot_id=pilot_id, stage=Stage.PROPOSAL))
        report = self.relay()
        assert report.sent >= len(opened.asked) and not report.errors, report
        return pilot_id, opened.gate_id

    def relay(self) -> RelayReport:
        return relay_outbox(
            self.db, make_client(self.runtime.settings), utcnow, policy=self.runtime.policy
        )

    def requests(self, gate_id: int) -> dict[str, Any]:
        with self.db.session() as session:
            return {r.approver: r for r in gates.requests_for(session, gate_id)}

    def count(self, model: Any, *where: Any) -> int:
        with self.db.session() as session:
            query = select(func.count()).select_from(model)
            if where:
                query = query.where(*where)
            return int(session.execute(query).scalar_one())

    def sign_in(self, user: str, **client_args: Any) -> httpx.Client:
        return sign_in(self.base_url, user, **client_args)


def make_runtime(db: Database, policy: Policy, emu: SlackEmulator) -> Runtime:
    settings = Settings(
        _env_file=None,
        PILOTGATE_DATABASE_URL=db.url,  # type: ignore[call-arg]
        SLACK_API_URL=emu.api_url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
    )
    return Runtime(settings, db=db, policy=policy)

"""`make demo`: three pilots, three endings, on embedded defaults.

Everything is real except Slack and the calendar: a SQLite register, Prefect flows on the local
API, the bolt listener over HTTP on loopback, and the Slack emulator whose scripted approvers
click Approve / Reject with correctly signed payloads. Time is simulated so a stalled pilot can
reach its deadline in seconds.

1. The IT help-desk assistant passes every gate to production.
2. The clinical documentation assistant is rejected at readiness review, with a reason.
3. The developer-productivity assistant stalls at a gate and is terminated at its deadline.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config.names import STAGE_FLOWS
from config.prefect_env import apply_defaults
from config.settings import Settings
from lifecycle.confirmations import criteria_of, refusal
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from pilotgate.dispatcher import Dispatcher, LocalLauncher
from pilotgate.report import build_report, write_html
from slack_in.server import start_in_thread
from slack_out.client import make_client
from slackemu import SlackEmulator
from store import audit, confirmations, gates, metrics, people, pilots
from store.migrate import upgrade
from tasks.runtime import Runtime, set_runtime
from web.app import create_routes

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("PILOTGATE_DEMO_DIR", ROOT / "out" / "demo"))
console = Console(highlight=False)

BOT_TOKEN = "xoxb-demo-token"
SIGNING_SECRET = "demo-signing-secret"
#: whom "Sign in with Slack" signs in on the demo's pages (a programme-office member).
SIGNED_IN = "U0PMO0001"
#: the people Slack's users.info knows in the demo's workspace (the policy names the others).
SLACK_PEOPLE = {
    "U0ARC0001": "Sam Okafor",
    "U0ARC0002": "Rita Novak",
    "U0SEC0001": "Chris Vaughn",
    "U0CMP0001": "Aisha Rahman",
    "U0OPS0001": "Lee Park",
    "U0CLN0001": "Dr. Elena Ruiz",
}


def serve_requested() -> bool:
    """PILOTGATE_DEMO_SERVE=1: keep serving the pages after the story, until Ctrl-C."""
    return os.environ.get("PILOTGATE_DEMO_SERVE", "").strip().lower() in ("1", "true", "yes")


def free_port() -> int:
    """PILOTGATE_DEMO_PORT, else a free loopback port (the pages must know their address
    before they are built: sign-in redirect, Origin check)."""
    wanted = os.environ.get("PILOTGATE_DEMO_PORT", "").strip()
    if wanted.isdigit():
        return int(wanted)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SimClock:
    """The demo's calendar: starts now and jumps forward on request."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, days: float) -> None:
        self.offset += timedelta(days=days)


class Demo:
    def __init__(self) -> None:
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        os.environ.setdefault("PREFECT_HOME", str(OUT / "prefect"))
        self.db_path = OUT / "pilotgate.db"
        self.url = f"sqlite:///{self.db_path}"
        self.clock = SimClock()
        self.emu = SlackEmulator(
            bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, signin_user=SIGNED_IN
        ).start()
        for user_id, name in SLACK_PEOPLE.items():
            self.emu.add_user(user_id, name.split()[-1].lower(), real_name=name)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def setup(self) -> None:
        upgrade(self.url)
        self.settings = Settings(
            PILOTGATE_DATABASE_URL=self.url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.emu.api_url,
            PILOTGATE_POLICY=str(ROOT / "examples" / "policy.yaml"),
            # The pages, served with the listener; "Sign in with Slack" through the emulator.
            PILOTGATE_BASE_URL=self.base_url,
            SLACK_CLIENT_ID=self.emu.client_id,
            SLACK_CLIENT_SECRET=self.emu.client_secret,
            SLACK_OPENID_AUTHORIZE_URL=self.emu.openid_authorize_url,
            SLACK_TEAM_ID=self.emu.team_id,
        )
        self.rt = Runtime(self.settings)
        set_runtime(self.rt)
        self.dispatcher = Dispatcher(
            self.rt,
            client=make_client(self.settings),
            launcher=LocalLauncher(clock=self.clock),
            clock=self.clock,
            sweep_every=None,
            names_every=timedelta(seconds=5),  # names from users.info, as `serve` does
        )
        self.listener = start_in_thread(
            self.rt,
            self.port,
            on_wake=self.dispatcher.wake.set,
            clock=self.clock,
            routes=create_routes(self.rt, clock=self.clock, on_wake=self.dispatcher.wake.set),
        )

    def close(self) -> None:
        self.listener.stop()
        self.emu.stop()

    # ------------------------------------------------------------ actions

    def propose(self, name: str) -> str:
        proposal = load_proposal(ROOT / "examples" / f"{name}.yaml")
        with self.rt.db.session() as session:
            pilot = pilots.create_pilot(
                session, proposal, self.rt.policy, actor="programme-manager", now=self.clock()
            )
            return pilot.id

    def advance(self, pilot_id: str) -> None:
        # Deferred: flows bring Prefect, which loads after main() applied its defaults.
        from flows.registry import flows

        with self.rt.db.session() as session:
            stage = Stage(pilots.get_pilot(session, pilot_id).stage)
        opened: Any = flows()[STAGE_FLOWS[stage]](
            pilot_id=pilot_id, now=self.clock(), actor="programme-manager"
        )
        asked = ", ".join(self.who(a.approver, a.role) for a in opened.asked)
        console.print(
            f"   [cyan]gate open[/] {opened.stage.value} -> {opened.target.value}; "
            f"asked {asked}; due {opened.deadline:%Y-%m-%d}"
        )
        for warning in opened.warnings:
            console.print(f"   [yellow]evidence warning:[/] {warning}")
        with self.rt.db.session() as session:
            show_evidence(gates.get_gate(session, opened.gate_id).evidence or {})

    def who(self, slack_id: str, role: str) -> str:
        """`Dana Smith (U0FIN0001, finance)`: the name every surface shows (store.people)."""
        with self.rt.db.session() as session:
            name = people.names(session, self.rt.policy, {slack_id}).name(slack_id)
        return escape(f"{name} ({slack_id}, {role})" if name else f"{slack_id} ({role})")

    def open_requests(self, pilot_id: str) -> list[Any]:
        """Unanswered requests whose role still lacks approvals (who a real approver nudges)."""
        with self.rt.db.session() as session:
            gate = gates.open_gate_for(session, pilot_id)
            if gate is None:
                return []
            missing = gates.evaluate(session, gate, self.clock()).missing
            answered = {d.request_id for d in gates.decisions_for(session, gate.id)}
            return [
                r
                for r in gates.requests_for(session, gate.id)
                if r.id not in answered and missing.get(r.role, 0) > 0
            ]

    def click_until_decided(self, pilot_id: str, reject: dict[str, str] | None = None) -> None:
        """Scripted approvers answer in Slack, one role at a time, until the gate is settled."""
        reject = reject or {}
        first = self.open_requests(pilot_id)
        gate_id = first[0].gate_id if first else None
        for _ in range(20):
            waiting = [r for r in self.open_requests(pilot_id) if r.gate_id == gate_id]
            if not waiting:
                break
            chosen = next((r for r in waiting if r.approver in reject), waiting[0])
            self.dispatcher.tick()  # the ask must have been delivered (it has a ts)
            request = self._fresh(chosen.id)
            if request.message_ts is None:
                continue
            if request.approver in reject:
                self.emu.click(
                    self.listener.url,
                    request.approver,
                    request.channel,
                    request.message_ts,
                    "pilotgate_reject",
                )
                view = self.emu.latest_view_for(request.approver)
                assert view is not None, "the reject modal did not open"
                resp = self.emu.submit_view(
                    self.listener.url,
                    request.approver,
                    view.id,
                    {"reason_input": reject[request.approver]},
                )
                console.print(
                    f"   [red]{self.who(request.approver, request.role)} rejects[/] in a "
                    f"Slack modal: {reject[request.approver]}  (HTTP "
                    f"{resp.status_code})"
                )
            else:
                resp = self.emu.click(
                    self.listener.url,
                    request.approver,
                    request.channel,
                    request.message_ts,
                    "pilotgate_approve",
                )
                console.print(
                    f"   [green]{self.who(request.approver, request.role)} approves[/] in "
                    f"Slack (signed click, HTTP {resp.status_code})"
                )
            self.dispatcher.drain()
        self.dispatcher.drain()
        self.report_gate(pilot_id)

    def report_gate(self, pilot_id: str) -> None:
        """Say what the dispatcher did after the last click (next gate opened, or the end)."""
        evidence: dict[str, Any] = {}
        with self.rt.db.session() as session:
            pilot = pilots.get_pilot(session, pilot_id)
            gate = gates.open_gate_for(session, pilot_id)
            line = f"   stage now [bold]{pilot.stage}[/]"
            if gate is not None:
                line += (
                    f"; its gate opened on entry ({gate.stage} -> {gate.target}, "
                    f"{len(gates.requests_for(session, gate.id))} approvers asked)"
                )
                evidence = gate.evidence or {}
        console.print(line)
        show_evidence(evidence)

    def _fresh(self, request_id: int) -> Any:
        with self.rt.db.session() as session:
            return gates.get_request(session, request_id)

    def stage(self, pilot_id: str) -> str:
        with self.rt.db.session() as session:
            pilot = pilots.get_pilot(session, pilot_id)
            return pilot.stage + (f" ({pilot.end_reason})" if pilot.end_reason else "")

    def record_metrics(self, pilot_id: str, values: dict[str, list[float]]) -> None:
        now = self.clock()
        with self.rt.db.session() as session:
            proposal = pilots.proposal_of(pilots.get_pilot(session, pilot_id))
            for name, series in values.items():
                metric = proposal.metric(name)
                assert metric is not None
                for i, value in enumerate(series):
                    metrics.record_metric(
                        session,
                        pilot_id,
                        metric=name,
                        value=value,
                        unit=metric.unit,
                        observed_at=now - timedelta(days=len(series) - i),
                        source="demo telemetry",
                        now=now,
                        actor="demo",
                    )
        console.print(f"   recorded {sum(len(v) for v in values.values())} metric observations")

    def confirm_criteria(self, pilot_id: str) -> None:
        """Each readiness criterion confirmed by the first member of its confirming role who
        may (as `pilotgate confirm` records it), with a link to the evidence."""
        now = self.clock()
        confirmed: list[tuple[str, str, str, str]] = []
        with self.rt.db.session() as session:
            proposal = pilots.proposal_of(pilots.get_pilot(session, pilot_id))
            known = criteria_of(self.rt.policy, proposal)
            for criterion in known:
                if criterion.required:
                    continue
                who = next(
                    m
                    for m in self.rt.policy.members(criterion.role)
                    if refusal(self.rt.policy, proposal, known, criterion.key, m, None, "https://x")
                    is None
                )
                confirmations.record(
                    session,
                    pilot_id,
                    criterion=criterion.key,
                    confirmed_by=who,
                    role=criterion.role,
                    note=None,
                    link=f"https://wiki.example.com/{pilot_id}/{criterion.key}",
                    now=now,
                    actor="demo",
                )
                confirmed.append((who, criterion.role, criterion.key, criterion.text))
        for who, role, key, text in confirmed:  # names read after the write lock is released
            console.print(
                f"   {self.who(who, role)} confirms {key}: {escape(text)}", highlight=False
            )

    def sweep(self) -> dict[str, Any]:
        # Deferred: flows bring Prefect, which loads after main() applied its defaults.
        from flows.sweep import sweep_flow

        result = sweep_flow(now=self.clock())
        self.dispatcher.drain()
        return result


def show_evidence(evidence: dict[str, Any]) -> None:
    """The evidence the approvers see in their Slack request, one line per metric."""
    marks = {"met": "[green]met[/]", "not_met": "[red]not met[/]", "missing": "[yellow]missing[/]"}
    for m in evidence.get("metrics", []):
        current = "no data" if m.get("current") is None else f"{m['current']:g}"
        console.print(
            f"     evidence {m['name']}: {current} {m['unit']} vs target {m['target']:g} "
            f"(baseline {m['baseline']:g}) -> {marks.get(m['status'], m['status'])}"
        )


def story(title: str) -> None:
    console.rule(f"[bold]{title}")


def main() -> int:
    apply_defaults()
    started = time.monotonic()
    console.print(
        "[bold]pilotgate demo[/]: SQLite register, Prefect flows, bolt listener on "
        "loopback, Slack emulator with scripted approvers, simulated calendar"
    )
    demo = Demo()
    try:
        with console.status(
            "starting the local Prefect API, the listener and the Slack emulator..."
        ):
            demo.setup()
            # Deferred: Prefect loads after main() has applied config.prefect_env defaults.
            from prefect import flow

            flow(name="warm-up")(lambda: None)()  # start Prefect's local API once, up front
        console.print(f"ready in {time.monotonic() - started:.0f} s; register at {demo.db_path}")

        helpdesk = demo.propose("helpdesk-assistant")
        clinical = demo.propose("clinical-documentation")
        devprod = demo.propose("developer-productivity")
        console.print(
            f"proposed: help-desk {helpdesk}, clinical {clinical}, developer productivity {devprod}"
        )

        story("1. IT help-desk assistant: every gate, to production")
        demo.advance(helpdesk)
        demo.click_until_decided(helpdesk)
        demo.clock.advance(60)
        console.print("   ... 60 days of pilot later; telemetry comes in")
        demo.record_metrics(
            helpdesk,
            {
                "resolution_minutes": [1.4, 1.1, 0.9, 1.0, 0.8],
                "first_contact_resolution": [79, 82, 84, 83, 85],
            },
        )
        demo.confirm_criteria(helpdesk)  # declared criteria, confirmed by the roles named
        demo.advance(helpdesk)  # pilot -> readiness review; its gate opens on entry
        demo.click_until_decided(helpdesk)
        demo.click_until_decided(helpdesk)  # readiness review -> internal rollout
        demo.clock.advance(20)
        console.print("   ... 20 days of internal rollout; targets hold")
        demo.record_metrics(
            helpdesk,
            {
                "resolution_minutes": [1.0, 0.9, 1.1, 0.9, 0.8, 1.0, 0.9, 0.8],
                "first_contact_resolution": [83, 84, 86, 85, 84, 86, 87, 85],
            },
        )
        demo.advance(helpdesk)  # internal rollout -> customer rollout
        demo.click_until_decided(helpdesk)
        demo.clock.advance(14)
        console.print("   ... 14 days with customers")
        demo.advance(helpdesk)  # customer rollout -> production, handed to operations
        demo.click_until_decided(helpdesk)

        story("2. Clinical documentation assistant: rejected at readiness review")
        demo.advance(clinical)
        demo.click_until_decided(clinical)
        demo.record_metrics(
            clinical,
            {"documentation_minutes_per_visit": [12, 11, 12.5], "note_error_rate": [4.5, 5.1, 4.8]},
        )
        demo.advance(clinical)  # pilot -> readiness review
        demo.click_until_decided(clinical)
        demo.click_until_decided(
            clinical,
            reject={
                "U0SEC0001": "Draft notes were stored in a third-party log outside the EHR; PHI "
                "handling fails the security review."
            },
        )
        console.print(f"   {demo.stage(clinical)}")

        story("3. Developer productivity assistant: stalls and is terminated at its deadline")
        demo.advance(devprod)
        demo.click_until_decided(devprod)
        demo.advance(devprod)  # pilot -> readiness review gate; nobody answers
        console.print("   nobody answers...")
        for days in (8, 7, 8):
            demo.clock.advance(days)
            result = demo.sweep()
            actions = [a["action"] for a in result["deadline_actions"]]
            console.print(
                f"   +{days} days, sweep: {result['reminders']} reminder(s), deadline "
                f"actions {actions or 'none'}; stage {demo.stage(devprod)}"
            )

        story("Portfolio")
        show_portfolio(demo)
        console.print(
            f"\nSlack emulator received {len(demo.emu.messages)} messages; "
            f"the audit chain and every decision are in {demo.db_path}"
        )
        console.print(
            "Look next: PILOTGATE_DATABASE_URL=sqlite:///"
            f"{demo.db_path} .venv/bin/pilotgate list   (then `status ID`, "
            "`audit verify`)"
        )
        with demo.rt.db.session() as session:  # as of the demo's simulated calendar
            report = write_html(
                OUT / "report.html", build_report(session, demo.rt.policy, demo.clock())
            )
        console.print(f"Portfolio report (one self-contained HTML file): {report}")
        console.print(f"done in {time.monotonic() - started:.0f} s")
        if serve_requested():
            serve_pages(demo)
        else:
            console.print(
                f"Portfolio pages: {demo.base_url}/  (they stopped with the demo; run "
                "PILOTGATE_DEMO_SERVE=1 make demo to keep them up until Ctrl-C)",
                highlight=False,
            )
        return 0
    finally:
        demo.close()


def serve_pages(demo: Demo) -> None:
    """Keep the pages, the listener and the dispatcher running until Ctrl-C, so the portfolio
    can be opened in a browser (signed in through the emulator as the programme office)."""
    worker = threading.Thread(
        target=demo.dispatcher.run_forever, args=(1.0,), name="dispatcher", daemon=True
    )
    worker.start()
    console.print(
        f"Portfolio pages: {demo.base_url}/  (Sign in with Slack signs you in as "
        f"{demo.rt.policy.name_of(SIGNED_IN) or SIGNED_IN}, programme office, through the "
        "emulator); Ctrl-C to stop",
        highlight=False,
    )
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        demo.dispatcher.stop.set()
        demo.dispatcher.wake.set()
        worker.join(10)


def show_portfolio(demo: Demo) -> None:
    table = Table("pilot", "title", "portfolio", "stage", "active / cap")
    endings = []
    with demo.rt.db.session() as session:
        for p in pilots.list_pilots(session):
            cap = demo.rt.policy.portfolio.cap_for(p.portfolio)
            table.add_row(
                p.id,
                p.title,
                p.portfolio,
                p.stage,
                f"{pilots.active_count(session, p.portfolio)} / {cap}",
            )
            if p.stage == "terminated":
                endings.append(f"{p.id} {p.title}: {p.end_reason}")
        chain = audit.verify(session)
    console.print(table)
    for line in endings:
        console.print(f"  [red]terminated[/] {line}")
    console.print(f"audit chain: {'intact' if chain.ok else 'BROKEN'} ({chain.rows} rows)")


if __name__ == "__main__":
    sys.exit(main())

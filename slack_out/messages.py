"""What pilotgate says in Slack, queued in the outbox in the caller's transaction.

Nothing here calls Slack: each function renders a template and writes an outbox row next to
the state change it reports, so a message is sent if and only if that change committed. The
relay (slack_out.relay) delivers the rows. Three kinds are rendered by the relay instead, when
it sends them (`as_sent`): an ask's tally refresh, a request's close and an App Home
(`slack_out.home`). All are queued on a decision's path (one per other waiting approver, one
per closed request and its reminders, one per Home the decision changes) and all show state
that exists when they are sent; the close's outcome, which is of its moment, is written into
the row when it is queued.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from config.links import index_url, pilot_url
from config.names import Keys
from lifecycle.gates import Verdict
from lifecycle.policy import Policy
from lifecycle.stages import LIVE, Stage, stage_label
from lifecycle.statuses import GatePhase
from slack_out.home import HOME_RENDER, mentions_by_role, more_line, sent_view
from slack_out.home import left as left_until
from slack_out.limits import fit_text
from slack_out.render import Mrkdwn, environment, mention, mrkdwn, mrkdwn_escape, render_blocks
from store import gates, outbox, people, pilots, read_home, read_tally
from store.models import Gate, Pilot, SignoffRequest
from store.read_tally import RoleTally

WHAT_IS_APPROVED = {
    Stage.PROPOSAL: "Approving starts the pilot and its deploy-or-terminate clock; the success "
    "metrics and readiness criteria below are fixed from now on.",
    Stage.PILOT: "Approving ends the pilot phase and opens the readiness review.",
    Stage.READINESS_REVIEW: "Approving confirms the readiness criteria are met and releases the "
    "pilot to internal users.",
    Stage.INTERNAL_ROLLOUT: "Approving confirms internal targets held and releases the pilot to "
    "customers.",
    Stage.CUSTOMER_ROLLOUT: "Approving hands the service to its operations owner in production.",
    Stage.PRODUCTION: "*Sustain* keeps it in production; *Adjust* keeps it with a change you "
    "write down (reviewed again sooner); *Retire* ends it, on record, like a termination.",
}


#: an ask is one block per metric and per criterion: these caps keep it inside Slack's 50 blocks
#: (header, facts, ask, 20 + 20, "and N more", warnings, buttons); the rest is on the pilot's page.
MAX_METRICS = 20
MAX_CRITERIA = 20


def label(stage: str | Stage) -> str:
    return stage_label(stage)


def pilot_context(pilot: Pilot) -> dict[str, Any]:
    proposal = pilots.proposal_of(pilot)
    owner = proposal.business_owner
    return {
        "id": pilot.id,
        "title": pilot.title,
        "portfolio": pilot.portfolio,
        "risk_tier": pilot.risk_tier,
        "owner_name": owner.name,
        "owner_slack_id": owner.slack_id,
        "budget": f"{owner.currency} {owner.budget:,.0f}",
        "url": pilot_url(pilot.id),
        "problem": proposal.problem.strip(),
        "business_case": proposal.readiness_criteria.business_case.strip(),
    }


def gate_context(gate: Gate) -> dict[str, Any]:
    return {
        "id": gate.id,
        "stage": gate.stage,
        "target": gate.target,
        "stage_label": label(gate.stage),
        "target_label": label(gate.target),
        "deadline": gate.deadline,
        "what": WHAT_IS_APPROVED[Stage(gate.stage)],
    }


def evidence_context(pilot: Pilot, gate: Gate) -> dict[str, Any]:
    """Metrics and criteria as the gate recorded them when it opened (or the bare targets)."""
    evidence = gate.evidence or {}
    metrics = evidence.get("metrics")
    if metrics is None:
        proposal = pilots.proposal_of(pilot)
        metrics = [
            {
                "name": m.name,
                "unit": m.unit,
                "baseline": m.baseline,
                "target": m.target,
                "better": m.better,
                "current": None,
                "status": "missing",
                "how": None,
            }
            for m in proposal.success_metrics
        ]
    criteria = evidence.get("criteria", [])
    return {
        "metrics": metrics[:MAX_METRICS],
        "criteria": criteria[:MAX_CRITERIA],
        "more_metrics": max(0, len(metrics) - MAX_METRICS),
        "more_criteria": max(0, len(criteria) - MAX_CRITERIA),
        "warnings": evidence.get("warnings", []),
    }


def request_blocks(
    pilot: Pilot, gate: Gate, request: SignoffRequest, tally: Mrkdwn | None = None
) -> list[dict[str, Any]]:
    """The ask's blocks; `tally` is the gate's live tally (`tally_text`), None to leave it out."""
    # A gate at production is its value review: Sustain / Adjust / Retire, not Approve / Reject.
    template = "value_review_request.json.j2" if gate.stage == Stage.PRODUCTION else None
    return render_blocks(
        template or "signoff_request.json.j2",
        pilot=pilot_context(pilot),
        gate=gate_context(gate),
        request={
            "id": request.id,
            "role": request.role,
            "round": request.round,
            "on_behalf_of": request.on_behalf_of,
        },
        tally=tally,
        **evidence_context(pilot, gate),
    )


def _ask_text(pilot: Pilot, gate: Gate) -> str:
    return (
        f"Sign-off requested: {mrkdwn_escape(pilot.title)} "
        f"({label(gate.stage)} -> {label(gate.target)}), "
        f"due {gate.deadline:%Y-%m-%d %H:%M} UTC"
    )


def ask(
    session: Session,
    pilot: Pilot,
    gate: Gate,
    request: SignoffRequest,
    now: datetime,
    *,
    policy: Policy,
) -> None:
    """Post the Approve / Reject message to the approver's DM, with the gate's tally as of now
    (names by `policy` and store.people's rule)."""
    outbox.enqueue(
        session,
        "chat.postMessage",
        {
            "user": request.approver,
            "text": _ask_text(pilot, gate),
            "blocks": request_blocks(pilot, gate, request, gate_tally(session, gate, policy)),
        },
        now=now,
        ref_kind="request",
        ref_id=request.id,
        dedupe_key=Keys.ask(request.id),
    )


#: the `render` marker of a queued tally refresh: no blocks yet. The relay renders the ask as
#: it stands when it sends (`refresh_payload`), so a decision does not render every other
#: approver's ask on the click's path, and a burst of decisions on one gate renders each ask
#: once, when its newest refresh goes out.
RENDER_ASK = "ask"
#: the `render` marker of a queued close whose blocks are still to be rendered.
RENDER_CLOSED = "closed"


def refresh_asks(
    session: Session,
    gate: Gate,
    *,
    now: datetime,
    skip: Collection[int] = (),
) -> list[int]:
    """Queue a `chat.update` of every still-open ask of an open gate (but those in `skip`):
    the same blocks and buttons with the tally as of when it is sent. The relay renders it
    then (`refresh_payload`), sends only the newest refresh of a request, waits for the ask to
    be posted, and skips it once the request is closed (slack_out.relay). Returns the request
    ids refreshed."""
    if gate.status != GatePhase.OPEN:
        return []
    session.flush()
    ids = [i for i in gates.unanswered_request_ids(session, gate.id) if i not in skip]
    outbox.enqueue_refs(
        session,
        "chat.update",
        {"render": RENDER_ASK},
        now=now,
        ref_kind="request_refresh",
        ref_ids=ids,
    )
    return ids


def is_deferred(payload: Mapping[str, Any]) -> bool:
    """Whether a queued refresh, close or Home is still to be rendered (rows queued before
    this release carry their blocks and are sent as they are)."""
    return payload.get("render") in (RENDER_ASK, RENDER_CLOSED, HOME_RENDER)


def as_sent(
    session: Session,
    ref_id: str | None,
    payload: Mapping[str, Any],
    *,
    policy: Policy | None,
    now: datetime,
    shared: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """A queued row's payload as the relay sends it: a deferred refresh, close or Home rendered
    as of `now` (`refresh_payload`, `closed_payload`, `home.sent_view`; `shared`: what the
    renders of one relay round share), any other as it is. None: its request is gone, so
    there is nothing to send."""
    if not is_deferred(payload):
        return dict(payload)
    kind = payload["render"]
    if kind == HOME_RENDER:
        return sent_view(session, dict(payload), now, {} if shared is None else shared)
    if kind == RENDER_ASK:
        return refresh_payload(session, int(ref_id or 0), policy)
    return closed_payload(session, int(ref_id or 0), payload)


def _request_in_place(
    session: Session, request_id: int
) -> tuple[SignoffRequest, Gate, Pilot] | None:
    """A request with its gate and pilot (what its messages show), None if it is gone."""
    request = gates.find_request(session, request_id)
    if request is None:
        return None
    gate = gates.get_gate(session, request.gate_id)
    return request, gate, pilots.get_pilot(session, gate.pilot_id)


def refresh_payload(
    session: Session, request_id: int, policy: Policy | None
) -> dict[str, Any] | None:
    """A request's ask as it stands now, with the gate's tally (names by `policy`, if given,
    then store.people's rule): what a tally refresh sends. None if the request is gone."""
    found = _request_in_place(session, request_id)
    if found is None:
        return None
    request, gate, pilot = found
    return {
        "text": _ask_text(pilot, gate),
        "blocks": request_blocks(pilot, gate, request, gate_tally(session, gate, policy)),
    }


#: names a tally line shows per role before "…and N more".
MAX_TALLY_NAMES = 10
#: a name's share of a line (escaped, then cut at a safe place).
_NAME_LIMIT = 100


@lru_cache(maxsize=1)
def _tally_words() -> Any:
    """tally.j2's macros (stateless, so made once)."""
    return environment().get_template("tally.j2").make_module()


def gate_tally(session: Session, gate: Gate, policy: Policy | None) -> Mrkdwn | None:
    """The gate's live tally as the ask shows it, names by store.people's rule."""
    tallies = read_tally.tally(session, gate)
    ids = read_tally.people_in(tallies)
    names = people.names(session, policy, ids, written_in=pilots.get_pilot(session, gate.pilot_id))
    found = {i: name for i in ids if (name := names.name(i))}
    return tally_text(tallies, found, pilot_url(gate.pilot_id))


def tally_text(tallies: Sequence[RoleTally], names: Mapping[str, str], url: str) -> Mrkdwn | None:
    """`*finance* 1 of 1 ✓ Dana Smith` / `*programme office* 0 of 1: Pat, Jordan asked`, a line
    per role, paged with "…and N more" and a link to the pilot's page; None for no roles."""
    if not tallies:
        return None
    words = _tally_words()

    def person(slack_id: str, principal: str | None) -> str:
        who = _named(slack_id, names)
        return str(words.person(who, _named(principal, names) if principal else ""))

    lines = []
    for t in tallies:
        groups = [(t.approved, words.approved), (t.rejected, words.rejected)]
        groups.append((t.waiting, words.asked))
        budget = MAX_TALLY_NAMES
        parts: list[str] = []
        for seats, say in groups:
            shown = seats[:budget]
            budget -= len(shown)
            if shown:
                parts.append(str(say(", ".join(person(s.approver, s.on_behalf_of) for s in shown))))
        hidden = len(t.seats) - (MAX_TALLY_NAMES - budget)
        role = Mrkdwn(fit_text(mrkdwn_escape(t.role.replace("_", " ")), _NAME_LIMIT))
        head = str(words.role(role, t.count, t.needed))
        if not parts:
            line = f"{head}: {words.nobody()}"
        else:
            sep = ": " if not t.approved and not t.rejected else " "
            line = head + sep + "; ".join(parts)
        if hidden > 0:
            line += " " + more_line(hidden, url)
        lines.append(Mrkdwn(line))
    heading = str(words.heading())
    body = paged(lines, _LIST_BUDGET - len(heading) - 1, url)
    return Mrkdwn(heading + "\n" + (body or ""))


def _named(slack_id: str, names: Mapping[str, str]) -> Mrkdwn:
    """A person by name (escaped, cut at a safe place), else as a Slack mention."""
    name = names.get(slack_id)
    return Mrkdwn(fit_text(mrkdwn_escape(name), _NAME_LIMIT)) if name else mention(slack_id)


def close_request(
    session: Session,
    request: SignoffRequest,
    outcome: Mrkdwn,
    now: datetime,
) -> None:
    """Replace the buttons of a request message with what happened, so nobody can still click.
    `outcome` is `Mrkdwn` (built with `mrkdwn()`), so a reason cannot smuggle markup in. The
    row carries the outcome; its blocks are rendered when the relay sends it
    (`closed_payload`), off the path of the click or sweep that closed the request."""
    if not isinstance(outcome, Mrkdwn):
        raise TypeError("close_request needs Mrkdwn: build the outcome with render.mrkdwn()")
    outcome = Mrkdwn(fit_text(outcome, 2900))  # never cut inside an escape or a mention
    payload = {"render": RENDER_CLOSED, "text": str(outcome)}
    outbox.enqueue(
        session, "chat.update", payload, now=now, ref_kind="request_update", ref_id=request.id
    )
    # The reminders carried the same buttons: they close with the ask.
    for channel, ts in read_home.sent_reminders(session, request.id):
        outbox.enqueue(
            session,
            "chat.update",
            {"channel": channel, "ts": ts, **payload},
            now=now,
            ref_kind="reminder_update",
            ref_id=request.id,
        )


def closed_payload(
    session: Session, request_id: int, payload: Mapping[str, Any]
) -> dict[str, Any] | None:
    """A queued close (`close_request`) as it is sent: its outcome under the pilot's header and
    the request's role. None if the request is gone."""
    found = _request_in_place(session, request_id)
    if found is None:
        return None
    request, gate, pilot = found
    outcome = Mrkdwn(str(payload["text"]))  # escaped when it was queued (`close_request`)
    blocks = render_blocks(
        "signoff_closed.json.j2",
        pilot=pilot_context(pilot),
        gate=gate_context(gate),
        request={"id": request.id, "role": request.role},
        outcome=outcome,
    )
    sent = {k: v for k, v in payload.items() if k != "render"}
    return {**sent, "text": str(outcome), "blocks": blocks}


def decision_outcome(
    approver: str,
    verdict: str,
    reason: str | None,
    at: datetime,
    on_behalf_of: str | None = None,
) -> Mrkdwn:
    """`:white_check_mark: Approved by <@Lee> on behalf of <@Sam> on ...` (mentions escaped)."""
    mark = {
        Verdict.APPROVE: ":white_check_mark: Approved",
        Verdict.ADJUST: ":wrench: Adjust",
    }.get(Verdict(verdict), ":x: Rejected")
    who = mention(approver) + (f" on behalf of {mention(on_behalf_of)}" if on_behalf_of else "")
    text = f"{mark} by {who} on {at:%Y-%m-%d %H:%M} UTC"
    return Mrkdwn(text + (mrkdwn("\n>{}", reason) if reason else ""))


def handed_over(to: str, reason: str, *, away: bool) -> Mrkdwn:
    """What the buttons of a request handed to someone else are replaced with."""
    what = "Handed to {} while you are away: " if away else "Reassigned to {}: "
    return Mrkdwn(":arrow_right: " + what.format(mention(to)) + mrkdwn("{}", reason))


#: how a settled gate closes the buttons nobody pressed.
_GATE_OUTCOME = {
    GatePhase.APPROVED: ":white_check_mark: Gate approved: {}",
    GatePhase.REJECTED: ":x: Gate rejected: {}",
    GatePhase.EXPIRED: ":hourglass: Gate expired: {}",
    GatePhase.CANCELLED: ":no_entry: Pilot terminated: {}",
}


def gate_outcome(status: str, reason: str) -> Mrkdwn:
    """What a settled (or cancelled) gate says on the requests nobody answered."""
    return mrkdwn(_GATE_OUTCOME[GatePhase(status)], reason)


def not_yours(session: Session, channel: str, user: str, text: str, now: datetime) -> None:
    """An ephemeral refusal, at most one per person per 10 minutes (`Keys.refusal`)."""
    outbox.enqueue(
        session,
        "chat.postEphemeral",
        {"channel": channel, "user": user, "text": text},
        now=now,
        dedupe_key=Keys.refusal(user, now),
    )


def ephemeral(
    session: Session, channel: str, user: str, text: str, now: datetime, *, dedupe_key: str
) -> None:
    """An ephemeral answer to one click, queued once per `dedupe_key` (e.g. `Keys.form_failed`):
    not subject to the refusals' one-per-10-minutes limit."""
    outbox.enqueue(
        session,
        "chat.postEphemeral",
        {"channel": channel, "user": user, "text": text},
        now=now,
        dedupe_key=dedupe_key,
    )


def remind(
    session: Session, pilot: Pilot, gate: Gate, request: SignoffRequest, point: float, now: datetime
) -> None:
    """A new message in the approver's DM (a thread reply may not notify them, and they would
    have to scroll up to the ask): how long is left, who else the gate waits on, and the same
    Approve / Reject buttons as the ask. Its `ts` is kept on the outbox row, so answering the
    request closes these buttons too (`close_request`)."""
    [blocked] = read_home.blocked(session, [gate])
    others = [(role, who) for role, who in blocked.waiting_on if who != request.approver]
    blocks = render_blocks(
        "reminder.json.j2",
        title=pilot.title,
        role=request.role,
        stage_label=label(gate.stage),
        target_label=label(gate.target),
        deadline=gate.deadline,
        left=left_until(gate.deadline, now),
        point=point,
        others=paged(
            _waiting_lines(others, pilot_url(pilot.id)), _LIST_BUDGET, pilot_url(pilot.id)
        ),
        request_id=request.id,
        review=Stage(gate.stage) in LIVE,
        url=pilot_url(pilot.id),
    )
    outbox.enqueue(
        session,
        "chat.postMessage",
        {
            "user": request.approver,
            "text": f"Reminder: sign-off on {mrkdwn_escape(pilot.title)} "
            f"due {gate.deadline:%Y-%m-%d %H:%M} UTC ({left_until(gate.deadline, now)})",
            "blocks": blocks,
        },
        now=now,
        ref_kind="reminder",
        ref_id=request.id,
        dedupe_key=Keys.remind(request.id, point),
    )


def _waiting_lines(others: Sequence[tuple[str, str]], url: str) -> list[Mrkdwn]:
    """`finance: <@U1>` a line per role (`mentions_by_role`), at most MAX_TALLY_NAMES people
    each, then "…and N more" with the link: a reminder pages who else is waiting, never cuts."""
    by_role: dict[str, list[str]] = {}
    for role, person in others:
        by_role.setdefault(role, []).append(person)
    lines = []
    for role, members in by_role.items():
        line = mentions_by_role([(role, m) for m in members[:MAX_TALLY_NAMES]])
        if len(members) > MAX_TALLY_NAMES:
            line += " " + more_line(len(members) - MAX_TALLY_NAMES, url)
        lines.append(Mrkdwn(line))
    return lines


def _fitted(text: str, limit: int = 2900) -> Mrkdwn:
    """`text` escaped (unless it already is `Mrkdwn`), then cut to `limit` at a safe place:
    escaping first, so `&` growing into `&amp;` cannot push a block past Slack's limit."""
    escaped = text if isinstance(text, Mrkdwn) else mrkdwn_escape(text)
    return Mrkdwn(fit_text(escaped, limit))


def notify(
    session: Session,
    user: str,
    headline: str,
    detail: str | None,
    now: datetime,
    dedupe_key: str | None = None,
    pilot_id: str | None = None,
) -> None:
    """A notice to one person; about a pilot, it links to the pilot's page."""
    blocks = render_blocks(
        "notice.json.j2",
        headline=_fitted(headline),
        detail=_fitted(detail) if detail else None,
        url=pilot_url(pilot_id) if pilot_id else None,
    )
    outbox.enqueue(
        session,
        "chat.postMessage",
        {"user": user, "text": mrkdwn_escape(headline), "blocks": blocks},
        now=now,
        ref_kind="notice",
        dedupe_key=dedupe_key,
    )


def _person(slack_id: str, names: Mapping[str, str]) -> Mrkdwn:
    """A person by the name the policy gives them (escaped), else as a Slack mention."""
    name = names.get(slack_id)
    return mrkdwn("{}", name) if name else mention(slack_id)


def owner_warning(
    session: Session,
    pilot: Pilot,
    gate: Gate,
    *,
    user: str,
    because: str,
    short: Mapping[str, int],
    waiting: Sequence[tuple[str, str, str | None]],
    names: Mapping[str, str],
    time_left: str,
    now: datetime,
    dedupe_key: str,
) -> int | None:
    """Tell the business owner or a programme-office member that a gate is about to run out:
    who has not answered, by name and role (`waiting`: approver, role, on behalf of whom), and
    the time left. Returns the outbox row's id, or None when this warning was already queued."""
    lines = [
        Mrkdwn(
            "• "
            + _person(approver, names)
            + mrkdwn(" ({})", role)
            + (" on behalf of " + _person(principal, names) if principal else "")
        )
        for approver, role, principal in waiting
    ]
    blocks = render_blocks(
        "owner_warning.json.j2",
        title=pilot.title,
        stage_label=label(gate.stage),
        target_label=label(gate.target),
        deadline=gate.deadline,
        time_left=time_left,
        short=mrkdwn_escape(", ".join(f"{role} {n} short" for role, n in short.items())),
        waiting=paged(lines, _LIST_BUDGET, pilot_url(pilot.id)),
        because=mrkdwn_escape(because),
        url=pilot_url(pilot.id),
    )
    return outbox.enqueue(
        session,
        "chat.postMessage",
        {
            "user": user,
            "text": f"Gate of {mrkdwn_escape(pilot.title)} due {gate.deadline:%Y-%m-%d %H:%M} "
            f"UTC ({time_left} left) still short of its quorum",
            "blocks": blocks,
        },
        now=now,
        ref_kind="owner_warning",
        ref_id=gate.id,
        dedupe_key=dedupe_key,
    )


def paged(lines: Sequence[str], budget: int, url: str) -> Mrkdwn | None:
    """As many whole `lines` (mrkdwn) as fit in `budget` characters, one a line, then
    `…and N more: <url|see them all>.`; None when there are none. A first line too long on its
    own is cut at a safe place, so a list is never cut mid-line without saying so."""
    if not lines:
        return None
    reserve = len(more_line(len(lines), url)) + 1 if len(lines) > 1 else 0
    shown: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        last = i == len(lines) - 1  # the last line needs no room for "and N more"
        if size + len(line) + 1 + (0 if last else reserve) > budget:
            break
        shown.append(line)
        size += len(line) + 1
    if not shown:
        shown.append(fit_text(lines[0], budget - reserve - 1))
    if len(shown) < len(lines):
        shown.append(more_line(len(lines) - len(shown), url))
    return Mrkdwn("\n".join(shown))


_PILOT_ID = re.compile(r"^(pg-[0-9a-f]{8})\b")


def _linked(line: str) -> Mrkdwn:
    """A digest line, escaped, whose leading pilot id links to the pilot's page."""
    text = mrkdwn("{}", line)
    found = _PILOT_ID.match(line)
    if found is None:
        return text
    pid = found.group(1)
    return Mrkdwn(f"<{pilot_url(pid)}|{pid}>" + text[len(pid) :])


#: a list's share of its section (3,000 characters, less its heading).
_LIST_BUDGET = 2800


def digest(
    session: Session,
    channel: str,
    *,
    now: datetime,
    terminated: list[str],
    due: list[str],
    caps: list[str],
    audit_head: str | None = None,
    dedupe_key: str | None = None,
) -> None:
    """The portfolio channel's digest; it also publishes the audit log's head (`ROWS:HASH`)
    outside the database, so a later `audit verify --expect` can catch a truncated log."""
    blocks = render_blocks(
        "digest.json.j2",
        now=now,
        terminated=paged([_linked(x) for x in terminated], _LIST_BUDGET, index_url()),
        due=paged([_linked(x) for x in due], _LIST_BUDGET, index_url()),
        caps=paged([mrkdwn("{}", x) for x in caps], _LIST_BUDGET, index_url()),
        audit_head=audit_head,
    )
    outbox.enqueue(
        session,
        "chat.postMessage",
        {"channel": channel, "text": "pilotgate digest", "blocks": blocks},
        now=now,
        ref_kind="digest",
        dedupe_key=dedupe_key,
    )

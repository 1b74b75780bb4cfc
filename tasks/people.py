"""People standing in for people: out-of-office delegations and reassigned sign-offs.

Database work only, in the caller's transaction, like `tasks.answers`: the register changes,
the audit rows, the closed buttons of a request handed over and the new ask all commit
together (the outbox delivers the messages). The rules are `lifecycle.delegation`'s; who may
be asked is checked against the policy's roles and the gate's separation of duties.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from lifecycle.delegation import Delegation as Rule
from lifecycle.delegation import DelegationError, assignee, check_new
from lifecycle.errors import InputError
from lifecycle.policy import SLACK_USER_ID, Policy
from slack_out import messages
from store import delegations, gates, pilots
from store.errors import Conflict
from store.models import Delegation, SignoffRequest
from tasks import home


@dataclass(frozen=True)
class HandOver:
    """One open request handed to someone else."""

    request_id: int
    new_request_id: int
    pilot_id: str
    gate_id: int
    role: str
    from_approver: str
    to: str
    on_behalf_of: str


@dataclass(frozen=True)
class Kept:
    """An open request that stayed with the approver, and why."""

    request_id: int
    pilot_id: str
    reason: str


def check_user_id(flag: str, value: str) -> str:
    value = value.strip()
    if not SLACK_USER_ID.match(value):
        raise InputError(
            flag,
            [f"{value!r} is not a Slack user id (U or W followed by 2-20 capitals or digits)"],
        )
    return value


def roles_of(policy: Policy, person: str) -> list[str]:
    return sorted(role for role, members in policy.roles.items() if person in members)


def create_delegation(
    session: Session,
    policy: Policy,
    *,
    approver: str,
    delegate: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    actor: str,
    now: datetime,
) -> tuple[Delegation, list[HandOver], list[Kept]]:
    """Record a delegation and, when it is in force now, re-ask the approver's open requests
    of the delegate (the originals' buttons are closed with a note)."""
    approver = check_user_id("APPROVER", approver)
    delegate = check_user_id("--to", delegate)
    reason = reason.strip()
    if not reason:
        raise InputError("--reason", ["say why (e.g. 'annual leave'); it goes on record"])
    own = roles_of(policy, approver)
    if not own:
        raise InputError(
            "APPROVER",
            [f"{approver} is not a member of any policy role, so nobody asks them to sign off"],
        )
    shared = sorted(set(own) & set(roles_of(policy, delegate)))
    if not shared:
        raise InputError(
            "--to",
            [
                f"{delegate} shares no policy role with {approver} (whose roles are "
                f"{', '.join(own)}); a delegate must be a member of at least one of them"
            ],
        )
    try:
        check_new(
            Rule(approver, delegate, starts_at, ends_at),
            delegations.live_overlapping(session, starts_at, ends_at),
            now,
        )
    except DelegationError as exc:
        raise InputError("delegation", [str(exc)]) from None
    row = delegations.add(
        session,
        approver=approver,
        delegate=delegate,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        actor=actor,
        now=now,
    )
    handed: list[HandOver] = []
    kept: list[Kept] = []
    if starts_at <= now < ends_at:
        handed, kept = _reask_open_requests(session, approver, reason, actor, now, policy)
    return row, handed, kept


def _reask_open_requests(
    session: Session,
    approver: str,
    reason: str,
    actor: str,
    now: datetime,
    policy: Policy | None = None,
) -> tuple[list[HandOver], list[Kept]]:
    handed: list[HandOver] = []
    kept: list[Kept] = []
    in_force = delegations.active(session, now, {approver})
    for request in gates.open_unanswered_requests_of(session, approver):
        gate = gates.get_gate(session, request.gate_id)
        in_role = {
            r.approver for r in gates.requests_for(session, gate.id) if r.role == request.role
        }
        try:
            who = assignee(
                approver,
                delegations=in_force,
                at=now,
                excluded=frozenset(gate.excluded),
                asked_in_role=frozenset(in_role - {approver}),
            )
        except DelegationError as exc:
            kept.append(Kept(request.id, gate.pilot_id, str(exc)))
            continue
        if who.on_behalf_of is None:
            kept.append(Kept(request.id, gate.pilot_id, who.passed_over or "nobody stands in"))
            continue
        try:
            # A savepoint: a click or another hand-over that got there first leaves this one
            # request with its approver and the others still handed over.
            with session.begin_nested():
                handed.append(
                    _hand_over(
                        session,
                        request,
                        who.asked,
                        reason,
                        actor,
                        now,
                        "request.delegated",
                        away=True,
                        policy=policy,
                    )
                )
        except Conflict as exc:
            kept.append(Kept(request.id, gate.pilot_id, str(exc)))
    _refresh_homes(session, handed, now, policy)
    return handed, kept


def _refresh_homes(
    session: Session, handed: list[HandOver], now: datetime, policy: Policy | None
) -> None:
    """The Homes of the pilots handed over: the approver's loses the request and its buttons,
    the delegate's gains it. Once per pilot, however many of its requests moved."""
    for pilot_id in sorted({h.pilot_id for h in handed}):
        home.refresh_pilot(session, pilot_id, now, policy=policy)


def reask_for_started_delegations(
    session: Session, *, actor: str, now: datetime
) -> list[tuple[Delegation, list[HandOver], list[Kept]]]:
    """The sweep's part: a delegation recorded before its period began re-asks the approver's
    open requests of the delegate once the period has begun. Idempotent: a request handed over
    is superseded and not found again; one kept with its approver stays kept, writing nothing."""
    done = []
    for row in delegations.in_force_recorded_before_start(session, now):
        handed, kept = _reask_open_requests(session, row.approver, row.reason, actor, now)
        done.append((row, handed, kept))
    return done


def _hand_over(
    session: Session,
    request: SignoffRequest,
    to: str,
    reason: str,
    actor: str,
    now: datetime,
    action: str,
    *,
    away: bool,
    policy: Policy | None = None,
) -> HandOver:
    from_approver = request.approver
    in_force = policy or home.policy()
    new = gates.hand_over(
        session, request, to=to, now=now, actor=actor, reason=reason, action=action
    )
    gate = gates.get_gate(session, request.gate_id)
    pilot = pilots.get_pilot(session, gate.pilot_id)
    messages.close_request(session, request, messages.handed_over(to, reason, away=away), now)
    messages.ask(session, pilot, gate, new, now, policy=in_force)
    # the gate's other asks show who stands in now
    messages.refresh_asks(session, gate, now=now, skip={new.id})
    return HandOver(
        request_id=request.id,
        new_request_id=new.id,
        pilot_id=pilot.id,
        gate_id=gate.id,
        role=new.role,
        from_approver=from_approver,
        to=to,
        on_behalf_of=new.on_behalf_of or from_approver,
    )


def revoke_delegation(
    session: Session, delegation_id: int, *, actor: str, now: datetime
) -> Delegation:
    """Revoke a delegation: new requests go to the approver again; requests already handed to
    the delegate stay with them (reassign one back with `reassign` if need be)."""
    return delegations.revoke(session, delegation_id, actor=actor, now=now)


def reassign(
    session: Session,
    policy: Policy,
    request_id: int,
    *,
    to: str,
    reason: str,
    actor: str,
    now: datetime,
) -> HandOver:
    """Hand one open request to another member of the same role (the programme office)."""
    to = check_user_id("--to", to)
    reason = reason.strip()
    if not reason:
        raise InputError("--reason", ["say why; it goes on record"])
    request = gates.get_request(session, request_id)
    gate = gates.get_gate(session, request.gate_id)
    members = policy.roles.get(request.role, [])
    if to not in members:
        raise InputError(
            "--to",
            [
                f"{to} is not a member of role {request.role!r} "
                f"(members: {', '.join(members) or 'none'})"
            ],
        )
    if to in set(gate.excluded):
        raise InputError(
            "--to",
            [f"{to} proposed or owns this pilot, so cannot sign it off (separation of duties)"],
        )
    if to == request.approver:
        raise InputError("--to", [f"request {request_id} is already asked of {to}"])
    if request.superseded_at is not None:
        successor = gates.handed_to(session, request)
        raise Conflict(
            f"request {request_id} was already handed to "
            f"{successor.approver if successor else 'someone else'}"
            + (f" (request {successor.id}); reassign that one" if successor else "")
        )
    if any(
        r.approver == to and r.role == request.role for r in gates.requests_for(session, gate.id)
    ):
        raise Conflict(
            f"{to} is already asked in role {request.role} of this gate (gate {gate.id}); "
            "nobody counts twice"
        )
    done = _hand_over(
        session, request, to, reason, actor, now, "request.reassigned", away=False, policy=policy
    )
    _refresh_homes(session, [done], now, policy)
    return done

"""Governance policy: who signs off what, by when, and what happens when nobody does.

Loaded from YAML and checked as a whole: every role a gate names must exist, every gate must
be satisfiable, and a high-risk or customer-facing pilot must meet security, compliance and
operations before it reaches customers. A policy that cannot be met fails `policy check`,
not a pilot six weeks in.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from lifecycle.errors import parse_yaml_text, read_source, validate_model
from lifecycle.stages import FORWARD, LIVE, SEND_BACK, Stage

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,20}$")

#: Roles a high-risk or customer-facing pilot always needs before customer rollout (at the gate
#: that leaves internal rollout).
CUSTOMER_ROLLOUT_GUARDS: tuple[str, ...] = ("security", "compliance", "operations")

GATED_STAGES: tuple[Stage, ...] = tuple(FORWARD)


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnTimeout(Strict):
    """What a gate does when its deadline passes without a decision."""

    action: Literal["terminate", "escalate", "extend"] = "terminate"
    #: escalate: the role asked next; it may decide the gate alone.
    to_role: str | None = None
    #: escalate / extend: days added to the deadline, once.
    days: int | None = Field(default=None, ge=1, le=90)

    @model_validator(mode="after")
    def _complete(self) -> OnTimeout:
        if self.action == "escalate" and not self.to_role:
            raise ValueError("escalate needs to_role (the role asked after the deadline)")
        if self.action in ("escalate", "extend") and self.days is None:
            raise ValueError(f"{self.action} needs days (how long the new deadline is, 1-90)")
        if self.action == "terminate" and (self.to_role or self.days):
            raise ValueError("terminate takes neither to_role nor days")
        return self


def _quorums(value: dict[str, int]) -> dict[str, int]:
    """Every role of a gate (or a review) needs at least one sign-off."""
    for role, count in value.items():
        if count < 1:
            raise ValueError(f"role {role!r} needs a quorum of at least 1, got {count}")
    return value


def _reminder_points(value: list[float]) -> list[float]:
    """Reminder points are shares of the deadline window, each strictly between 0 and 1."""
    for point in value:
        if not 0 < point < 1:
            raise ValueError(
                f"reminder point {point} must be between 0 and 1 (a share of the window)"
            )
    return sorted(set(value))


#: role -> how many distinct members must sign off (each at least 1).
Quorums = Annotated[dict[str, int], AfterValidator(_quorums)]
#: shares of the deadline window at which the unanswered are reminded (sorted, unique).
ReminderPoints = Annotated[list[float], AfterValidator(_reminder_points)]


class GatePolicy(Strict):
    """The sign-off rules for the gate that leaves one stage."""

    #: role -> how many distinct members of that role must approve.
    approvers: Quorums = Field(min_length=1)
    any_rejection_rejects: bool = True
    deadline_days: int = Field(default=14, ge=1, le=365)
    on_timeout: OnTimeout = OnTimeout()
    on_reject: Literal["terminate", "send_back"] = "terminate"
    #: fractions of the deadline window at which unanswered approvers are reminded.
    reminders: ReminderPoints = Field(default_factory=lambda: [0.5, 0.8])
    #: open the gate as soon as the stage begins (False: a programme manager runs `advance`).
    open_on_entry: bool = True


class RequiredEvidence(Strict):
    """A piece of evidence a risk tier (or customer-facing use) requires, confirmed by a member
    of a named role before the pilot leaves a stage (e.g. an EU AI Act high-risk use needs a
    human-oversight plan and an impact assessment before customers). Always blocking: the gate
    that leaves `before` does not open until it is confirmed."""

    #: the key it is confirmed under: `pilotgate confirm PILOT required.<name>`.
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=48)
    description: str = Field(min_length=1, max_length=300)
    confirmed_by: str
    #: the stage whose leaving gate needs it (internal_rollout: before customers).
    before: Stage = Stage.INTERNAL_ROLLOUT


class TierRules(Strict):
    """Extra sign-offs for a risk tier or for customer-facing pilots: gate -> role -> count."""

    extra_approvers: dict[Stage, dict[str, int]] = Field(default_factory=dict)
    required_evidence: list[RequiredEvidence] = Field(default_factory=list)

    @field_validator("extra_approvers")
    @classmethod
    def _positive(cls, value: dict[Stage, dict[str, int]]) -> dict[Stage, dict[str, int]]:
        for stage, extra in value.items():
            for role, count in extra.items():
                if count < 1:
                    raise ValueError(
                        f"{stage.value}.{role}: needs a quorum of at least 1, got {count}"
                    )
        return value


class EvidenceRules(Strict):
    """How readiness evidence is judged (see lifecycle.evidence)."""

    #: block: a readiness gate with unmet or missing evidence does not open; warn: it opens.
    missing_evidence: Literal["block", "warn"] = "warn"
    #: the figure compared with the target: the median of the last N observations...
    last_n: int = Field(default=5, ge=1, le=1000)
    #: ...taken from the last `window_days` days.
    window_days: int = Field(default=14, ge=1, le=365)
    #: readiness criteria category -> the role whose member confirms each of its items
    #: (`pilotgate confirm`); a category not named here needs no confirmation.
    confirm_by: dict[Literal["technical", "operational", "business_case"], str] = Field(
        default_factory=dict
    )
    #: block: the readiness gate does not open while a criterion is not confirmed; warn: it
    #: opens and the ask shows it as not confirmed.
    unconfirmed: Literal["block", "warn"] = "warn"
    #: when new measurements change an open gate's evidence verdict: reask (approvals given on
    #: the old evidence stop counting and those approvers are asked again) or keep.
    on_evidence_change: Literal["reask", "keep"] = "reask"


class ValueReview(Strict):
    """The value review of a pilot in production: a gate at production whose approvers
    sustain it, adjust it (a written note; reviewed again sooner) or retire it (a recorded end,
    like a termination). Due `after_days` after go-live, then `every_days` after a sustain,
    `adjust_after_days` after an adjust (lifecycle.value_review.review_due)."""

    after_days: int = Field(ge=1, le=730)
    every_days: int = Field(default=180, ge=1, le=730)
    adjust_after_days: int = Field(default=60, ge=1, le=730)
    #: role -> how many distinct members sustain (or adjust) for the review to pass.
    approvers: Quorums = Field(min_length=1)
    #: one retire retires (True), or only a quorum that can no longer be reached does.
    any_retire_retires: bool = True
    deadline_days: int = Field(default=14, ge=1, le=365)
    reminders: ReminderPoints = Field(default_factory=lambda: [0.5, 0.8])
    #: extend or escalate once; after that the review expires, and an expired review never
    #: retires: the pilot is sustained and the review asked again at the next sweep.
    on_timeout: OnTimeout | None = None

    @field_validator("on_timeout")
    @classmethod
    def _never_silent(cls, value: OnTimeout | None) -> OnTimeout | None:
        if value is not None and value.action == "terminate":
            raise ValueError(
                "terminate is not allowed: a value review nobody answers never retires a pilot "
                "(give extend or escalate, or leave it out: an expired review sustains the "
                "pilot and is asked again at the next sweep)"
            )
        return value

    @model_validator(mode="after")
    def _sooner(self) -> ValueReview:
        if self.adjust_after_days > self.every_days:
            raise ValueError(
                f"adjust_after_days ({self.adjust_after_days}) is after every_days "
                f"({self.every_days}): an adjusted pilot is reviewed again sooner, not later"
            )
        return self

    def gate_policy(self) -> GatePolicy:
        """The review as the gate rules every other gate follows (asks, reminders, deadline,
        quorum); a rejection is a retirement, an approval a sustain or an adjust."""
        return GatePolicy(
            approvers=self.approvers,
            any_rejection_rejects=self.any_retire_retires,
            deadline_days=self.deadline_days,
            on_timeout=self.on_timeout or OnTimeout(),
            reminders=self.reminders,
            open_on_entry=False,
        )


class ValueRules(Strict):
    """What an hour saved is worth, so the report can set value against each pilot's budget;
    and, optionally, when a pilot in production is reviewed for the value it delivers."""

    #: money per hour saved (a loaded labour rate); None: value is shown in hours only.
    hour_rate: float | None = Field(default=None, gt=0, le=100_000)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    #: None: no value reviews (pilots stay in production until someone changes the policy).
    review: ValueReview | None = None


class PortfolioRules(Strict):
    max_active_pilots: int = Field(default=5, ge=1, le=100)
    deploy_or_terminate_days: int = Field(default=182, ge=1, le=730)
    #: a proposal not put to its gate (`advance`) within this many days is terminated.
    proposal_days: int = Field(default=30, ge=1, le=365)
    separation_of_duties: bool = True
    digest_channel: str | None = None
    #: per-portfolio caps that differ from max_active_pilots.
    caps: dict[str, int] = Field(default_factory=dict)

    @field_validator("digest_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_CHANNEL_ID.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (like C0123ABCD)")
        return value

    def cap_for(self, portfolio: str) -> int:
        return self.caps.get(portfolio, self.max_active_pilots)


#: the longest owner-warning window: a month before the deadline.
MAX_WARNING_HOURS = 720


class OwnerWarnings(Strict):
    """When a gate is due within `window_hours` and its quorum is still short, the pilot's
    business owner and the members of the programme office are told who has not answered."""

    #: hours before a gate's deadline; 0 sends no warnings. Who is told besides the business
    #: owner is the policy's top-level `programme_office` role (one name for every surface).
    window_hours: int = 48

    @field_validator("window_hours", mode="before")
    @classmethod
    def _window(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"{value!r} is not a whole number of hours; give 1 to {MAX_WARNING_HOURS} "
                "(e.g. 48 to warn two days before the deadline), or 0 for no warnings"
            )
        if not 0 <= value <= MAX_WARNING_HOURS:
            raise ValueError(
                f"{value} hours is outside 0-{MAX_WARNING_HOURS}: give the hours before a "
                f"gate's deadline at which to warn (at most {MAX_WARNING_HOURS}, 30 days), "
                "or 0 for no warnings"
            )
        return value


class PersonEntry(Strict):
    """What the policy says about one person: the name every surface shows for their id."""

    name: str = Field(min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _plain(cls, value: str) -> str:
        if any(not ch.isprintable() for ch in value):
            raise ValueError("name holds control characters or line breaks; write plain text")
        value = " ".join(value.split())
        if not value:
            raise ValueError("name is blank; write the person's name (e.g. Dana Smith)")
        return value


class Policy(Strict):
    #: the policy's own label (e.g. "2026-Q4"); every gate also records the content digest
    #: (lifecycle.policy_versions), so an unlabelled or relabelled edit is still told apart.
    version: str | None = Field(default=None, min_length=1, max_length=64)
    roles: dict[str, list[str]] = Field(min_length=1)
    #: the role that runs the programme: it may advance and terminate any pilot from Slack,
    #: sees every overdue gate on its Home and is warned of gates about to lapse. The one
    #: source of that role's name for every surface.
    programme_office: str = "programme_office"
    #: Slack user id -> {name: ...}: the name shown for a person, ahead of what Slack's
    #: users.info says (optional; anyone not here is shown by their Slack name, else their id).
    people: dict[str, PersonEntry] = Field(default_factory=dict)
    portfolio: PortfolioRules = PortfolioRules()
    gates: dict[Stage, GatePolicy]
    risk_tiers: dict[RiskTier, TierRules] = Field(default_factory=dict)
    customer_facing: TierRules = TierRules()
    evidence: EvidenceRules = EvidenceRules()
    value: ValueRules = ValueRules()
    warnings: OwnerWarnings = OwnerWarnings()

    @field_validator("roles")
    @classmethod
    def _members(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for role, members in value.items():
            if not members:
                raise ValueError(f"role {role!r} has no members")
            for member in members:
                if not SLACK_USER_ID.match(member):
                    raise ValueError(
                        f"role {role!r}: {member!r} is not a Slack user id (like U0123ABCD)"
                    )
            if len(set(members)) != len(members):
                raise ValueError(f"role {role!r} lists a member twice")
        return value

    @field_validator("people")
    @classmethod
    def _people_ids(cls, value: dict[str, PersonEntry]) -> dict[str, PersonEntry]:
        for slack_id in value:
            if not SLACK_USER_ID.match(slack_id):
                raise ValueError(
                    f"{slack_id!r} is not a Slack user id (U or W followed by 2-20 capitals "
                    "or digits, like U0123ABCD)"
                )
        return value

    def name_of(self, slack_id: str) -> str | None:
        """The name the policy gives this person, if it names them."""
        entry = self.people.get(slack_id)
        return entry.name if entry is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        known = set(self.roles)
        problems: list[str] = []
        missing = [s.value for s in GATED_STAGES if s not in self.gates]
        if missing:
            problems.append(f"gates: missing gate(s) for {', '.join(missing)}")
        for stage, gate in self.gates.items():
            if stage in LIVE:
                problems.append(
                    f"gates.{stage.value}: {stage.value} has no stage gate; its value review "
                    "is set under value.review"
                )
                continue
            if stage not in FORWARD:
                problems.append(f"gates.{stage.value}: {stage.value} is terminal and has no gate")
                continue
            if gate.on_reject == "send_back" and stage not in SEND_BACK:
                problems.append(
                    f"gates.{stage.value}.on_reject: send_back is not possible from "
                    f"{stage.value} (possible from {', '.join(s.value for s in SEND_BACK)})"
                )
            for role, count in gate.approvers.items():
                if role not in known:
                    problems.append(_unknown_role(f"gates.{stage.value}.approvers", role, known))
                elif count > len(self.roles[role]):
                    problems.append(
                        f"gates.{stage.value}.approvers.{role}: quorum {count} but the "
                        f"role has {len(self.roles[role])} member(s)"
                    )
            if gate.on_timeout.to_role and gate.on_timeout.to_role not in known:
                problems.append(
                    _unknown_role(
                        f"gates.{stage.value}.on_timeout.to_role", gate.on_timeout.to_role, known
                    )
                )
        # The default names the usual role; a policy without it has no programme office (only
        # the business owner is warned, nobody may advance or terminate from Slack).
        if self.programme_office not in known and "programme_office" in self.model_fields_set:
            problems.append(_unknown_role("programme_office", self.programme_office, known))
        review = self.value.review
        if review is not None:
            for role, count in review.approvers.items():
                if role not in known:
                    problems.append(_unknown_role("value.review.approvers", role, known))
                elif count > len(self.roles[role]):
                    problems.append(
                        f"value.review.approvers.{role}: quorum {count} but the role has "
                        f"{len(self.roles[role])} member(s)"
                    )
            to_role = review.on_timeout.to_role if review.on_timeout else None
            if to_role and to_role not in known:
                problems.append(_unknown_role("value.review.on_timeout.to_role", to_role, known))
        for category, role in self.evidence.confirm_by.items():
            if role not in known:
                problems.append(_unknown_role(f"evidence.confirm_by.{category}", role, known))
        named = [(f"risk_tiers.{tier.value}", rules) for tier, rules in self.risk_tiers.items()]
        named.append(("customer_facing", self.customer_facing))
        for where, rules in named:
            seen: set[str] = set()
            for i, required in enumerate(rules.required_evidence):
                at = f"{where}.required_evidence[{i}]"
                if required.confirmed_by not in known:
                    problems.append(
                        _unknown_role(f"{at}.confirmed_by", required.confirmed_by, known)
                    )
                if required.before not in FORWARD:
                    problems.append(
                        f"{at}.before: {required.before.value} has no gate to leave (give one "
                        f"of {', '.join(s.value for s in FORWARD)})"
                    )
                if required.name in seen:
                    problems.append(f"{at}.name: {required.name!r} is listed twice")
                seen.add(required.name)
            for stage, extra in rules.extra_approvers.items():
                for role, count in extra.items():
                    if role not in known:
                        problems.append(
                            _unknown_role(f"{where}.extra_approvers.{stage.value}", role, known)
                        )
                    elif count > len(self.roles[role]):
                        problems.append(
                            f"{where}.extra_approvers.{stage.value}.{role}: quorum "
                            f"{count} but the role has {len(self.roles[role])} "
                            "member(s)"
                        )
        guards: list[tuple[str, TierRules | None]] = [
            ("risk_tiers.high", self.risk_tiers.get(RiskTier.HIGH)),
            ("customer_facing", self.customer_facing),
        ]
        # The gate that leaves internal rollout is the one that lets customers in.
        entry = Stage.INTERNAL_ROLLOUT
        for where, guard in guards:
            guarded = set(guard.extra_approvers.get(entry, {})) if guard else set()
            guarded |= set(self.gates.get(entry, GatePolicy(approvers={"_": 1})).approvers)
            lacking = [r for r in CUSTOMER_ROLLOUT_GUARDS if r not in guarded]
            if lacking:
                problems.append(
                    f"{where}.extra_approvers.{entry.value}: must include "
                    f"{', '.join(lacking)} (high-risk and customer-facing pilots need "
                    "security, compliance and operations sign-off before customers)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def gate(self, stage: Stage) -> GatePolicy:
        """The rules of the gate at `stage`; at production, the value review's. A review gate
        still open after value.review was removed keeps its stored quorum and expires under
        the default rules (an expired review sustains)."""
        if stage in LIVE:
            if self.value.review is not None:
                return self.value.review.gate_policy()
            return GatePolicy(approvers={self.programme_office: 1}, any_rejection_rejects=True)
        return self.gates[stage]

    def members(self, role: str) -> list[str]:
        return self.roles[role]

    def programme_office_members(self) -> list[str]:
        """The programme office's members (none when the policy has no such role)."""
        return list(self.roles.get(self.programme_office, []))

    def is_member(self, slack_id: str) -> bool:
        """Whether the person holds any of the policy's roles."""
        return any(slack_id in members for members in self.roles.values())


def _unknown_role(where: str, role: str, known: set[str]) -> str:
    return f"{where}: unknown role {role!r} (roles defined: {', '.join(sorted(known))})"


def parse_policy(text: str, source: str = "policy") -> Policy:
    return validate_model(Policy, parse_yaml_text(text, source), source)


def load_policy(path: str | Path) -> Policy:
    return parse_policy(*read_source(path))

"""Which policy a gate was opened under, and what a policy change changes, in words.

A policy is identified by a digest of its content (what it says, not how the YAML is laid
out: comments, key order and defaults spelled out or left implicit give the same digest), plus
the policy's own `version:` label when it has one. Every gate records both when it opens, so an
auditor can tell which rules a decision was made under even after the file has changed.

`describe_changes` compares two policies and says, one line per change, what a programme
office would want to know before switching: who joins or leaves a role, which quorums,
deadlines, timeouts and caps move, which risk-tier reviews appear or go. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lifecycle.policy import GatePolicy, OnTimeout, Policy, TierRules, ValueReview
from lifecycle.stages import Stage, stage_label

#: hex digits of the digest shown to people; the full digest is stored.
SHORT = 12


@dataclass(frozen=True)
class PolicyStamp:
    """What a gate records about the policy it opened under."""

    digest: str
    label: str | None

    @property
    def short(self) -> str:
        return self.digest[:SHORT]

    def __str__(self) -> str:
        return f"{self.label} ({self.short})" if self.label else self.short


def canonical(policy: Policy) -> str:
    """The policy's content as one canonical JSON text: sorted keys, defaults included, the
    label and the people's display names left out (relabelling or renaming someone is not a
    change of rules; `describe_changes` still reports both)."""
    data = policy.model_dump(mode="json", exclude={"version", "people"})
    if policy.value.review is None:
        # A policy without value reviews keeps the digest it had before they existed, so
        # gates opened under it are still "under the policy in force".
        data["value"].pop("review", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def stamp(policy: Policy) -> PolicyStamp:
    digest = hashlib.sha256(canonical(policy).encode("utf-8")).hexdigest()
    return PolicyStamp(digest, policy.version)


# ------------------------------------------------------------------------------- diff


def _members(names: list[str]) -> str:
    return ", ".join(names) if names else "nobody"


def _quorum(quorum: dict[str, int]) -> str:
    return ", ".join(f"{role} {count}" for role, count in sorted(quorum.items())) or "none"


def _timeout(rule: OnTimeout) -> str:
    if rule.action == "terminate":
        return "terminate"
    if rule.action == "extend":
        return f"extend once by {rule.days} days"
    return f"escalate to {rule.to_role} for {rule.days} days"


def _roles(old: Policy, new: Policy) -> list[str]:
    lines: list[str] = []
    for role in sorted(set(old.roles) | set(new.roles)):
        before, after = old.roles.get(role), new.roles.get(role)
        if before is None and after is not None:
            lines.append(f"role {role} is new: {_members(after)}")
        elif after is None and before is not None:
            lines.append(f"role {role} is removed (was {_members(before)})")
        elif before is not None and after is not None:
            joined = [m for m in after if m not in before]
            left = [m for m in before if m not in after]
            if joined:
                lines.append(f"role {role}: {_members(joined)} join(s)")
            if left:
                lines.append(f"role {role}: {_members(left)} leave(s)")
    return lines


def _gate(stage: Stage, old: GatePolicy, new: GatePolicy) -> list[str]:
    where = f"gate leaving {stage_label(stage)}"
    lines: list[str] = []
    if old.approvers != new.approvers:
        lines.append(f"{where}: quorum {_quorum(old.approvers)} -> {_quorum(new.approvers)}")
    if old.deadline_days != new.deadline_days:
        lines.append(f"{where}: deadline {old.deadline_days} -> {new.deadline_days} days")
    if old.on_timeout != new.on_timeout:
        lines.append(
            f"{where}: on deadline {_timeout(old.on_timeout)} -> {_timeout(new.on_timeout)}"
        )
    if old.on_reject != new.on_reject:
        lines.append(f"{where}: on rejection {old.on_reject} -> {new.on_reject}")
    if old.any_rejection_rejects != new.any_rejection_rejects:
        now_word = "one rejection" if new.any_rejection_rejects else "a quorum of rejections"
        lines.append(f"{where}: now {now_word} rejects the gate")
    if old.reminders != new.reminders:
        lines.append(
            f"{where}: reminders at {_shares(old.reminders)} -> {_shares(new.reminders)} "
            "of the window"
        )
    if old.open_on_entry != new.open_on_entry:
        how = "opens as the stage begins" if new.open_on_entry else "waits for `advance`"
        lines.append(f"{where}: now {how}")
    return lines


def _shares(points: list[float]) -> str:
    return ", ".join(f"{p:.0%}" for p in points) or "none"


def _tier(where: str, old: TierRules | None, new: TierRules | None) -> list[str]:
    before = old.extra_approvers if old else {}
    after = new.extra_approvers if new else {}
    lines: list[str] = []
    required_before = {r.name: r for r in (old.required_evidence if old else [])}
    required_after = {r.name: r for r in (new.required_evidence if new else [])}
    for name in sorted(set(required_before) | set(required_after)):
        b_item, a_item = required_before.get(name), required_after.get(name)
        if b_item is None and a_item is not None:
            lines.append(
                f"{where} now requires {name} ({a_item.confirmed_by} confirms, before leaving "
                f"{stage_label(a_item.before)})"
            )
        elif a_item is None:
            lines.append(f"{where} no longer requires {name}")
        elif a_item != b_item:
            lines.append(
                f"{where}: required {name} now confirmed by {a_item.confirmed_by} before "
                f"leaving {stage_label(a_item.before)}"
            )
    for stage in sorted(set(before) | set(after), key=lambda s: list(Stage).index(s)):
        b, a = before.get(stage, {}), after.get(stage, {})
        if b != a:
            lines.append(
                f"{where} at the gate leaving {stage_label(stage)}: extra sign-offs "
                f"{_quorum(b)} -> {_quorum(a)}"
            )
    return lines


def _scalars(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lines.append(f"{where}.{key}: {old.get(key)!r} -> {new.get(key)!r}")
    return lines


#: portfolio settings `describe_changes` words itself; the rest are listed as they are.
_PORTFOLIO_WORDED = {
    "max_active_pilots",
    "caps",
    "deploy_or_terminate_days",
    "proposal_days",
    "separation_of_duties",
}


def describe_changes(old: Policy, new: Policy) -> list[str]:
    """One line per change from `old` to `new`; an empty list when the rules are the same
    (a changed label alone is reported, since people will look for it)."""
    lines: list[str] = []
    if old.version != new.version:
        lines.append(f"label {old.version or '(none)'} -> {new.version or '(none)'}")
    lines += _roles(old, new)
    for stage in sorted(set(old.gates) | set(new.gates), key=lambda s: list(Stage).index(s)):
        if stage in old.gates and stage in new.gates:
            lines += _gate(stage, old.gates[stage], new.gates[stage])
    p_old, p_new = old.portfolio, new.portfolio
    if p_old.max_active_pilots != p_new.max_active_pilots:
        lines.append(
            f"cap on active pilots per portfolio {p_old.max_active_pilots} -> "
            f"{p_new.max_active_pilots}"
        )
    for name in sorted(set(p_old.caps) | set(p_new.caps)):
        if p_old.cap_for(name) != p_new.cap_for(name):
            lines.append(f"cap for portfolio {name} {p_old.cap_for(name)} -> {p_new.cap_for(name)}")
    if p_old.deploy_or_terminate_days != p_new.deploy_or_terminate_days:
        lines.append(
            f"deploy or terminate within {p_old.deploy_or_terminate_days} -> "
            f"{p_new.deploy_or_terminate_days} days of the pilot's start"
        )
    if p_old.proposal_days != p_new.proposal_days:
        lines.append(
            f"a proposal must be put to its gate within {p_old.proposal_days} -> "
            f"{p_new.proposal_days} days"
        )
    if p_old.separation_of_duties != p_new.separation_of_duties:
        state = "on" if p_new.separation_of_duties else "OFF"
        lines.append(f"separation of duties is now {state}")
    # Any other portfolio setting (e.g. one added later) is still reported, field by field.
    rest_old = p_old.model_dump(mode="json", exclude=_PORTFOLIO_WORDED)
    rest_new = p_new.model_dump(mode="json", exclude=_PORTFOLIO_WORDED)
    lines += _scalars("portfolio", rest_old, rest_new)
    for tier in sorted(set(old.risk_tiers) | set(new.risk_tiers)):
        lines += _tier(
            f"risk tier {tier.value}", old.risk_tiers.get(tier), new.risk_tiers.get(tier)
        )
    lines += _tier("customer-facing pilots", old.customer_facing, new.customer_facing)
    lines += _scalars(
        "evidence", old.evidence.model_dump(mode="json"), new.evidence.model_dump(mode="json")
    )
    lines += _review(old.value.review, new.value.review)
    lines += _scalars(
        "value",
        old.value.model_dump(mode="json", exclude={"review"}),
        new.value.model_dump(mode="json", exclude={"review"}),
    )
    # Sections not worded above (e.g. people, warnings, and any added later): field by field.
    for name in Policy.model_fields:
        if name in _WORDED:
            continue
        before_dump = getattr(old, name)
        after_dump = getattr(new, name)
        if before_dump != after_dump:
            lines += _scalars(name, _dump(before_dump), _dump(after_dump))
    return lines


#: top-level sections `describe_changes` words itself.
_WORDED = {
    "version",
    "roles",
    "gates",
    "portfolio",
    "risk_tiers",
    "customer_facing",
    "evidence",
    "value",
}


def review_line(review: ValueReview) -> str:
    """The value review in one line, for `policy check` and `policy diff`."""
    timeout = review.on_timeout
    on_timeout = (
        f"{timeout.action} {timeout.days} days"
        + (f" to {timeout.to_role}" if timeout.to_role else "")
        if timeout
        else "sustained and asked again"
    )
    retire = (
        "one retire retires"
        if review.any_retire_retires
        else "retired when the quorum cannot be reached"
    )
    return (
        f"value review {review.after_days} days after production, then every "
        f"{review.every_days} days ({review.adjust_after_days} after an adjust); "
        f"sustained by {_quorum(review.approvers)}; "
        f"{retire}; "
        f"{review.deadline_days} days to answer, then {on_timeout}"
    )


def _review(old: ValueReview | None, new: ValueReview | None) -> list[str]:
    if old == new:
        return []
    if new is None:
        return ["value reviews are off (pilots in production are no longer reviewed)"]
    if old is None:
        return [f"value reviews are on: {review_line(new)}"]
    return [f"value review: {review_line(old)} -> {review_line(new)}"]


def _dump(value: Any) -> dict[str, Any]:
    if hasattr(value, "model_dump"):
        return dict(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {
            str(k): (v.model_dump(mode="json") if hasattr(v, "model_dump") else v)
            for k, v in value.items()
        }
    return {"value": value}


def tier_lines(policy: Policy) -> list[str]:
    """What each risk tier and customer-facing use adds, gate by gate, for `policy check`."""
    named: list[tuple[str, TierRules]] = [
        (f"risk tier {tier.value}", rules) for tier, rules in sorted(policy.risk_tiers.items())
    ]
    named.append(("customer-facing pilots", policy.customer_facing))
    lines = []
    for where, rules in named:
        for item in rules.required_evidence:
            lines.append(
                f"{where}, before leaving {stage_label(item.before)}: requires {item.name} "
                f"({item.description}; {item.confirmed_by} confirms)"
            )
        for stage in sorted(rules.extra_approvers, key=lambda s: list(Stage).index(s)):
            lines.append(
                f"{where}, gate leaving {stage_label(stage)}: also "
                f"{_quorum(rules.extra_approvers[stage])}"
            )
    return lines

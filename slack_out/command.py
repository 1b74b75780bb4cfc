"""The `/pilotgate` command's answers and its dialogs (terminate, propose), as Block Kit.

Answers are ephemeral (only the person who typed the command sees them) and are built here
from the register with slack_sdk's block models; the words are in templates/command.j2, where
every piece of user-written text (titles, reasons, what was typed) is escaped. Lists stop at
a fixed length and end with "and N more" and a link, so an answer stays inside Slack's 50 blocks
and 3,000 characters a section whatever the portfolio holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from config.links import pilot_url
from config.settings import Settings
from lifecycle.stages import ACTIVE, Stage, stage_label
from slack_out.home import blocked_line, left, mentions_by_role
from slack_out.limits import fit_text
from slack_out.render import environment, mention
from store.models import Decision, Gate, Pilot, SignoffRequest
from store.read_home import Blocked

#: a pilot list or a gate list in one answer stops here ("and N more").
MAX_LINES = 25
SECTION_LIMIT = 3000
TERMINATE_MODAL = "pilotgate_terminate_modal"
TERMINATE_BLOCK = "terminate_reason"
TERMINATE_INPUT = "terminate_reason_input"
#: the same minimum as `pilotgate terminate --reason`.
MIN_TERMINATE_REASON = 5


@lru_cache(maxsize=1)
def words() -> Any:
    """The template's macros (stateless, so made once)."""
    return environment().get_template("command.j2").make_module(vars={"label": stage_label})


def answer(*parts: str, context: str | None = None) -> dict[str, Any]:
    """An ephemeral answer: each part one section; `text` carries it all for notifications."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=fit_text(p, SECTION_LIMIT))) for p in parts if p
    ]
    if context:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=fit_text(context, SECTION_LIMIT))])
        )
    for b in blocks:
        b.validate_json()
    return {
        "response_type": "ephemeral",
        "text": fit_text("\n".join(p for p in parts if p), SECTION_LIMIT),
        "blocks": [b.to_dict() for b in blocks],
    }


def say(macro: str, *args: Any) -> dict[str, Any]:
    return answer(str(getattr(words(), macro)(*args)))


def help_answer(pmo: bool) -> dict[str, Any]:
    return answer(str(words().help(pmo)))


def not_pmo(verb: str, role: str) -> dict[str, Any]:
    """The refusal of a programme-office verb; `role` is the policy's programme_office."""
    return say("not_pmo", verb, role)


def _base() -> str:
    return Settings().base_url.rstrip("/")


def _more(shown: int, total: int, url: str) -> str | None:
    return str(words().more(total - shown, url)) if total > shown else None


def status_answer(
    pilot: Pilot,
    gate: Gate | None,
    requests: Sequence[SignoffRequest],
    decisions: Sequence[Decision],
    waiting_on: Sequence[tuple[str, str]],
    now: datetime,
) -> dict[str, Any]:
    w = words()
    parts = [str(w.status_head(pilot, pilot_url(pilot.id), mention(pilot.business_owner)))]
    if Stage(pilot.stage) not in ACTIVE and pilot.ended_at is not None:
        parts.append(str(w.ended(pilot)))
    if gate is None:
        parts.append(str(w.no_gate()))
        return answer(*parts)
    lines = [str(w.gate_head(gate, left(gate.deadline, now)))]
    by_request = {d.request_id: d for d in decisions}
    done = [
        str(w.answered(mention(r.approver), r.role, by_request[r.id].verdict))
        for r in requests
        if r.id in by_request
    ]
    if done:
        lines.append(str(w.answered_line(", ".join(done))))
    if waiting_on:
        lines.append(str(w.waiting_line(mentions_by_role(waiting_on))))
    parts.append("\n".join(lines))
    return answer(*parts)


def status_stage_only(pilot: Pilot, why: str) -> dict[str, Any]:
    """`status` for someone the pilot pages are not for: where the pilot is, not who said what."""
    w = words()
    head = str(w.status_head(pilot, pilot_url(pilot.id), mention(pilot.business_owner)))
    return answer(head, context=str(w.stage_only(why)))


def list_answer(pilots: Sequence[Pilot], open_gates: dict[str, Gate]) -> dict[str, Any]:
    w = words()
    if not pilots:
        return answer(str(w.list_none()))
    lines = [str(w.list_line(p, pilot_url(p.id), open_gates.get(p.id))) for p in pilots[:MAX_LINES]]
    return answer(
        str(w.list_head(len(pilots))),
        "\n".join(lines),
        context=_more(MAX_LINES, len(pilots), f"{_base()}/"),
    )


def waiting_answer(gates: Sequence[Blocked], now: datetime) -> dict[str, Any]:
    w = words()
    if not gates:
        return answer(str(w.waiting_none()))
    late = sum(1 for g in gates if g.deadline < now)
    return answer(
        str(w.waiting_head(len(gates), late)),
        *(blocked_line(g, now) for g in gates[:MAX_LINES]),
        context=_more(MAX_LINES, len(gates), f"{_base()}/"),
    )


def terminate_modal(pilot: Pilot) -> dict[str, Any]:
    """The dialog that asks a programme manager why, and so confirms, a termination."""
    w = words()
    view = View(
        type="modal",
        callback_id=TERMINATE_MODAL,
        private_metadata=pilot.id,
        title=str(w.terminate_title()),
        submit="Terminate",
        close="Cancel",
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=fit_text(
                        str(w.terminate_ask(pilot.id, pilot.title, pilot.stage)), SECTION_LIMIT
                    )
                )
            ),
            InputBlock(
                block_id=TERMINATE_BLOCK,
                label="Reason (on record)",
                element=PlainTextInputElement(
                    action_id=TERMINATE_INPUT,
                    multiline=True,
                    min_length=MIN_TERMINATE_REASON,
                    max_length=2000,
                ),
            ),
        ],
    )
    view.validate_json()
    return view.to_dict()


PROPOSE_MODAL = "pilotgate_propose_modal"
#: (block id = the proposal's field path, label, multiline, optional, placeholder). The block id
#: is the path `pilotgate propose` names in its errors, so an error lands on its own field.
PROPOSE_FIELDS: tuple[tuple[str, str, bool, bool, str], ...] = (
    ("title", "Title", False, False, "IT help-desk assistant"),
    ("problem", "Problem", True, False, "What is slow, costly or risky today"),
    ("portfolio", "Portfolio", False, False, "it-operations"),
    ("business_owner.name", "Business owner (budget authority)", False, False, "Tom Becker"),
    ("business_owner.slack_id", "Business owner's Slack id", False, False, "U0BIZ0001"),
    ("business_owner.budget", "Budget", False, False, "180000"),
    ("business_owner.currency", "Currency", False, True, "USD"),
    ("technical_lead.name", "Technical lead", False, False, "Ana Souza"),
    ("technical_lead.slack_id", "Technical lead's Slack id", False, False, "U0TEC0001"),
    ("operations_owner.name", "Operations owner", False, True, "Lee Park"),
    ("operations_owner.slack_id", "Operations owner's Slack id", False, True, "U0OPS0001"),
    ("pilot_duration_days", "Pilot duration (days)", False, False, "90"),
    (
        "success_metrics",
        "Success metrics (YAML list)",
        True,
        False,
        "- {name: resolution_minutes, unit: minutes, baseline: 11, target: 1, better: lower}",
    ),
    (
        "readiness_criteria",
        "Readiness criteria (YAML)",
        True,
        False,
        "{technical: [...], operational: [...], business_case: ...}",
    ),
    ("reviews", "Extra reviews (policy roles, comma-separated)", False, True, "security"),
)
#: the choices, with the proposal's own values.
PROPOSE_CHOICES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "risk_tier": ("Risk tier", (("low", "low"), ("medium", "medium"), ("high", "high"))),
    "customer_facing": ("Customer facing", (("no", "false"), ("yes", "true"))),
}


def propose_modal() -> dict[str, Any]:
    """The proposal's fields as a dialog; `slack_in.propose_submit` validates it with the very
    model `pilotgate propose` uses."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=str(words().propose_intro()))),
    ]
    for block_id, label, multiline, optional, hint in PROPOSE_FIELDS:
        blocks.append(
            InputBlock(
                block_id=block_id,
                label=label,
                optional=optional,
                element=PlainTextInputElement(
                    action_id=block_id, multiline=multiline, placeholder=hint[:150]
                ),
            )
        )
        if block_id == "portfolio":
            for choice, (choice_label, options) in PROPOSE_CHOICES.items():
                blocks.append(
                    InputBlock(
                        block_id=choice,
                        label=choice_label,
                        element=StaticSelectElement(
                            action_id=choice,
                            options=[Option(text=t, value=v) for t, v in options],
                            initial_option=Option(text=options[0][0], value=options[0][1]),
                        ),
                    )
                )
    view = View(
        type="modal",
        callback_id=PROPOSE_MODAL,
        title="Propose a pilot",
        submit="Propose",
        close="Cancel",
        blocks=blocks,
    )
    view.validate_json()
    return view.to_dict()

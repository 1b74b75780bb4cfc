"""The App Home: each person's own page in Slack, queued as a `views.publish` in the outbox.

Approvers live in Slack; a lost DM must not mean a lost sign-off. The Home lists what waits for
the person (with the same Approve / Reject buttons as the ask, handled by the same listeners),
the pilots they proposed or own, and, for the programme office, the gates overdue or due within
7 days and who holds each up. It is queued when the person opens it and again, in the
transaction of the change, whenever something it shows changes (`refresh`, through
`tasks.home.refresh_pilot`: decisions, gates opening, settling and escalating, terminations,
proposals from Slack or the CLI, delegation hand-overs and reassignments, a policy re-applied;
the sweep's reminder rounds refresh it as time passes). The view itself is rendered when the
relay sends it (`sent_view`), so it shows the register as it is then, never older than the
change that queued it.

Built with slack_sdk's block models (limits checked by construction: at most 100 blocks, long
lists end with "and N more" and a link); the words live in templates/home.j2, where every
piece of user-written text is escaped.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View
from sqlalchemy.orm import Session

from config.links import pilot_url
from config.names import Keys
from config.settings import Settings
from lifecycle.stages import LIVE, Stage, stage_label
from slack_out.limits import fit_text
from slack_out.render import environment, mention
from store import outbox, read_home
from store.models import Gate, Pilot
from store.read_home import Blocked, Waiting

#: Slack's App Home takes at most 100 blocks; these caps keep every section inside it.
MAX_WAITING = 15
MAX_PILOTS = 20
MAX_OVERDUE = 15
#: a section's text is at most 3,000 characters; ours stay well below (titles are <= 200).
SECTION_LIMIT = 3000
APPROVE_ACTION = "pilotgate_approve"  # slack_in.approve listens for these two
REJECT_ACTION = "pilotgate_reject"
ADJUST_ACTION = "pilotgate_adjust"  # slack_in.review_answer listens for these two
RETIRE_ACTION = "pilotgate_retire"


@lru_cache(maxsize=1)
def _words() -> Any:
    """The template's macros (stateless, so made once)."""
    return environment().get_template("home.j2").make_module(vars={"label": stage_label})


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=fit_text(text, SECTION_LIMIT)))


def more_line(count: int, url: str) -> str:
    """`…and 3 more: <url|see them all>.`"""
    return str(_words().more(count, url)).strip()


def hours_left(deadline: datetime, now: datetime) -> float:
    return (deadline - now).total_seconds() / 3600


def left(deadline: datetime, now: datetime) -> str:
    """`3 days left`, `5 h left`, `overdue by 1 d 4 h`."""
    return str(_words().left(hours_left(deadline, now))).strip()


def mentions_by_role(people: Sequence[tuple[str, str]]) -> str:
    """`finance: <@U1>; programme office: <@U2>, <@U3>` (ids escaped, roles escaped)."""
    words = _words()
    by_role: dict[str, list[str]] = {}
    for role, approver in people:
        by_role.setdefault(role, []).append(mention(approver))
    return "; ".join(str(words.role_people(r, ", ".join(m))) for r, m in by_role.items())


def blocked_line(b: Blocked, now: datetime, base_url: str | None = None) -> str:
    """One overdue (or open) gate and who holds it up, as mrkdwn."""
    url = pilot_url(b.pilot_id, base_url)
    return str(_words().blocked(b, url, left(b.deadline, now), mentions_by_role(b.waiting_on)))


def ask_line(w: Waiting, now: datetime, base_url: str | None = None) -> str:
    return str(_words().ask(w, pilot_url(w.pilot_id, base_url), left(w.deadline, now)))


def decision_buttons(request_id: int, *, review: bool = False) -> ActionsBlock:
    """Approve / Reject; on a value review Sustain / Adjust / Retire, as its ask shows them."""
    value = str(request_id)
    if review:
        elements = [
            ButtonElement(text="Sustain", action_id=APPROVE_ACTION, value=value, style="primary"),
            ButtonElement(text="Adjust", action_id=ADJUST_ACTION, value=value),
            ButtonElement(text="Retire", action_id=RETIRE_ACTION, value=value, style="danger"),
        ]
    else:
        elements = [
            ButtonElement(text="Approve", action_id=APPROVE_ACTION, value=value, style="primary"),
            ButtonElement(text="Reject", action_id=REJECT_ACTION, value=value, style="danger"),
        ]
    return ActionsBlock(block_id=f"pilotgate_home_{request_id}", elements=elements)


def _more(blocks: list[Block], shown: int, total: int, url: str) -> None:
    if total > shown:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=str(_words().more(total - shown, url)))])
        )


def home_blocks(
    *,
    now: datetime,
    waiting: Sequence[Waiting],
    pilots: Sequence[Pilot],
    open_gates: dict[str, Gate],
    at_risk: Sequence[Blocked] | None,
    base_url: str | None = None,
) -> list[Block]:
    """The Home's blocks; `at_risk` is None for anyone outside the programme office."""
    words = _words()
    base = (base_url if base_url is not None else Settings().base_url).rstrip("/")
    blocks: list[Block] = [HeaderBlock(text=str(words.title()))]
    blocks.append(_section(str(words.waiting_heading(len(waiting)))))
    if not waiting:
        blocks.append(_section(str(words.nothing_waiting())))
    for w in waiting[:MAX_WAITING]:
        blocks.append(_section(ask_line(w, now, base)))
        blocks.append(decision_buttons(w.request_id, review=Stage(w.stage) in LIVE))
    _more(blocks, MAX_WAITING, len(waiting), f"{base}/me")
    blocks.append(DividerBlock())
    blocks.append(_section(str(words.pilots_heading(len(pilots)))))
    if not pilots:
        blocks.append(_section(str(words.no_pilots())))
    for p in pilots[:MAX_PILOTS]:
        blocks.append(_section(str(words.pilot(p, pilot_url(p.id, base), open_gates.get(p.id)))))
    _more(blocks, MAX_PILOTS, len(pilots), f"{base}/")
    if at_risk is not None:
        blocks.append(DividerBlock())
        blocks.append(_section(str(words.overdue_heading(len(at_risk)))))
        if not at_risk:
            blocks.append(_section(str(words.none_overdue())))
        for b in at_risk[:MAX_OVERDUE]:
            blocks.append(_section(blocked_line(b, now, base)))
        _more(blocks, MAX_OVERDUE, len(at_risk), f"{base}/")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=str(words.footer(now)))]))
    return blocks


def home_view(
    session: Session,
    user_id: str,
    now: datetime,
    *,
    programme_office: bool,
    at_risk: Sequence[Blocked] | None = None,
) -> dict[str, Any]:
    """The person's Home as Slack's `views.publish` takes it (validated by slack_sdk).
    `at_risk`: the programme office's list when the caller already read it (the relay reads it
    once per round for every member's Home, not once each)."""
    pilots = read_home.pilots_of(session, user_id)
    if not programme_office:
        at_risk = None  # the overdue list is the programme office's alone
    elif at_risk is None:
        at_risk = read_home.at_risk(session, now)
    view = View(
        type="home",
        callback_id="pilotgate_home",
        blocks=home_blocks(
            now=now,
            waiting=read_home.waiting_for(session, user_id),
            pilots=pilots,
            open_gates=read_home.open_gates_of(session, [p.id for p in pilots]),
            at_risk=at_risk,
        ),
    )
    view.validate_json()
    return view.to_dict()


def publish(
    session: Session,
    user_id: str,
    now: datetime,
    *,
    programme_office: bool,
    has_home: bool = False,
) -> None:
    """Queue the person's Home. The first one carries `Keys.home`, which is how `refresh` knows
    who has a Home (`has_home`: the caller knows it is not the first). The view is rendered
    when the relay sends it (`sent_view`), as of then: the relay sends only a person's newest
    queued Home, so a burst of changes renders it once, and none of them renders it inside a
    click's 3-second window."""
    payload = {"user_id": user_id, "render": HOME_RENDER, "programme_office": programme_office}
    # the key is taken after the first publish
    for key in (None,) if has_home else (Keys.home(user_id), None):
        queued = outbox.enqueue(
            session,
            "views.publish",
            payload,
            now=now,
            ref_kind=read_home.HOME_REF,
            ref_id=user_id,
            dedupe_key=key,
        )
        if queued is not None:
            return


#: the payload marker of a queued Home whose view is still to be rendered.
HOME_RENDER = "home"


def sent_view(
    session: Session, payload: dict[str, Any], now: datetime, shared: dict[str, Any]
) -> dict[str, Any]:
    """A queued Home (`publish`) as `views.publish` takes it, rendered as of `now`. `shared`
    lives for one relay round: every programme-office member's Home shows the same overdue
    list, read once into it (up to 100 gates, two queries each), not once per member."""
    user_id = str(payload["user_id"])
    office = bool(payload["programme_office"])
    if office and "at_risk" not in shared:
        shared["at_risk"] = read_home.at_risk(session, now)
    view = home_view(
        session,
        user_id,
        now,
        programme_office=office,
        at_risk=shared["at_risk"] if office else None,
    )
    return {"user_id": user_id, "view": view}


def refresh(
    session: Session, people: Collection[str], now: datetime, *, programme_office: Collection[str]
) -> list[str]:
    """Queue again the Home of those of `people` who have one; returns whose (sorted)."""
    session.flush()
    who = sorted(read_home.home_users(session, people))
    for user_id in who:
        publish(session, user_id, now, programme_office=user_id in programme_office, has_home=True)
    return who

"""The pages: the portfolio, a pilot, my sign-offs; and the answers given on them.

Every handler first finds who is signed in (else: to `/signin`), then reads the register in one
transaction in a worker thread (the database is synchronous; the event loop never waits on it).
An answer is screened and recorded exactly as a Slack click is (`tasks.answers`), in one
transaction; a refused answer is a 403 with the reason and records nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lifecycle.gates import Verdict
from lifecycle.signoffs import MIN_REASON
from lifecycle.stages import Stage
from store.people import NOT_A_MEMBER
from store.read_pages import PilotFilter
from tasks.answers import ALREADY_ANSWERED, Answer, record, screen
from web import views
from web.context import Web, forbidden, message, page, read_form
from web.people import Directory, directory
from web.session import SignedIn

log = logging.getLogger("pilotgate.web")

#: the longest reason a rejection takes (as the Slack modal's input; the shortest is the
#: policy-wide lifecycle.signoffs.MIN_REASON).
MAX_REASON = 2000


def filter_from(request: Request) -> PilotFilter:
    q = request.query_params
    stage = q.get("stage") or None
    if stage is not None and stage not in {s.value for s in Stage}:
        stage = None
    return PilotFilter(
        portfolio=(q.get("portfolio") or None),
        stage=stage,
        owner=(q.get("owner") or None),
    )


def _people(web: Web, session: Any) -> Directory:
    return directory(session, web.runtime.policy)


async def portfolio(request: Request) -> Response:
    web: Web = request.app.state.web
    who = web.signed_in(request)
    if who is None:
        return web.to_signin(request)
    where = filter_from(request)

    def read() -> tuple[views.Portfolio, Directory]:
        with web.runtime.db.session() as session:
            people = _people(web, session)
            return views.portfolio(session, web.runtime.policy, people, where, web.clock()), people

    view, people = await run_in_threadpool(read)
    member = people.is_member(who.user_id)
    query = urlencode(
        {
            k: v
            for k, v in (
                ("portfolio", where.portfolio),
                ("stage", where.stage),
                ("owner", where.owner),
            )
            if v
        }
    )
    return page("portfolio.html.j2", view=view, who=who, member=member, people=people, query=query)


async def pilot(request: Request) -> Response:
    web: Web = request.app.state.web
    who = web.signed_in(request)
    if who is None:
        return web.to_signin(request)
    pilot_id = request.path_params["pilot_id"]

    def read() -> tuple[views.PilotPage | None, Directory]:
        with web.runtime.db.session() as session:
            people = _people(web, session)
            if not people.is_member(who.user_id):
                return None, people
            return views.pilot_page(
                session,
                pilot_id,
                web.runtime.policy,
                people,
                web.clock(),
                prefect_ui_url=web.runtime.settings.prefect_ui_url,
            ), people

    view, people = await run_in_threadpool(read)
    if not people.is_member(who.user_id):
        return forbidden(NOT_A_MEMBER, who)
    if view is None:
        return message(
            404, "No such pilot", f"There is no pilot {pilot_id}.", who=who, member=True, back="/"
        )
    return page("pilot.html.j2", view=view, who=who, member=True, people=people)


async def me(request: Request) -> Response:
    web: Web = request.app.state.web
    who = web.signed_in(request)
    if who is None:
        return web.to_signin(request)
    recorded = request.query_params.get("recorded", "")

    def read() -> tuple[views.MySignoffs, Directory]:
        with web.runtime.db.session() as session:
            return views.my_signoffs(session, who.user_id, web.clock()), _people(web, session)

    view, people = await run_in_threadpool(read)
    just = next((a for a in view.answered if str(a.request_id) == recorded), None)
    return page(
        "me.html.j2",
        view=view,
        who=who,
        member=people.is_member(who.user_id),
        people=people,
        just=just,
        min_reason=MIN_REASON,
        max_reason=MAX_REASON,
    )


@dataclass(frozen=True)
class Outcome:
    status: int
    text: str
    resolved: bool = False


def decide(
    web: Web, who: SignedIn, request_id: int, verdict: Verdict, reason: str | None
) -> Outcome:
    """Screen and record one answer in one transaction, exactly as a Slack click is."""
    now = web.clock()
    with web.runtime.db.session() as session:
        people = _people(web, session)
        target, refused = screen(session, request_id, who.user_id, now)
        if target is None:
            return Outcome(404, f"There is no sign-off request {request_id}.")
        if refused is not None:
            return Outcome(403, people.mentions(refused))
        if target.answered:
            return Outcome(409, ALREADY_ANSWERED)
        result = record(session, target, verdict=verdict, reason=reason, now=now, source="web")
    log.info(
        "request %s: %s by %s on the web -> %s",
        request_id,
        verdict.value,
        who.user_id,
        result.answer,
    )
    if result.answer is Answer.DUPLICATE:
        return Outcome(409, ALREADY_ANSWERED)
    return Outcome(200, result.text, result.gate_resolved)


def _wake(web: Web) -> None:
    """The resolve-gate request is committed: a failed wake-up only delays it to the
    dispatcher's next round, it must not fail the answer."""
    if web.on_wake is None:
        return
    try:
        web.on_wake()
    except Exception:
        log.exception("on_wake failed; the resolve-gate flow request stays queued")


async def answer(request: Request) -> Response:
    web: Web = request.app.state.web
    who = web.signed_in(request)
    form = await read_form(request)
    if who is None:
        return forbidden("Sign in first: nothing was recorded.")
    if form is None or not web.genuine_post(request, who, form):
        log.info("answer from %s without a valid form token; refused", who.user_id)
        return forbidden("This form did not come from this page: nothing was recorded.", who)
    request_id = int(request.path_params["request_id"])
    try:
        verdict = Verdict(request.path_params["verdict"])
    except ValueError:
        verdict = None
    # A value review's Adjust needs its note form: it is answered in Slack (README).
    if verdict not in (Verdict.APPROVE, Verdict.REJECT):
        return message(404, "No such answer", "Answers are approve or reject.", who=who, back="/me")
    reason: str | None = None
    if verdict is Verdict.REJECT:
        reason = (form.get("reason") or "").strip()
        if not MIN_REASON <= len(reason) <= MAX_REASON:
            return message(
                400,
                "Give a reason",
                f"A rejection needs a reason of {MIN_REASON} to {MAX_REASON} characters; "
                "it goes on record and to the business owner. Nothing was recorded.",
                who=who,
                back="/me",
            )
    outcome = await run_in_threadpool(decide, web, who, request_id, verdict, reason)
    if outcome.status != 200:
        title = {403: "Not yours to decide", 404: "No such request", 409: "Already answered"}
        return message(
            outcome.status, title.get(outcome.status, "Refused"), outcome.text, who=who, back="/me"
        )
    if outcome.resolved:
        _wake(web)
    return RedirectResponse(f"/me?recorded={request_id}", status_code=303)

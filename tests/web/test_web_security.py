"""The pages' guards, over real HTTP without a browser (httpx): sign-in with Slack through the
emulator, the session cookie, CSRF and Origin checks, who may answer, escaping, exports.

Every test that touches the register runs on SQLite and PostgreSQL (`db` is parametrised).
"""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from web_site import (
    FIN,
    OUTSIDER,
    OWNER,
    PMO1,
    PMO2,
    Site,
    make_runtime,
    serve_site,
)

from config.settings import Settings
from lifecycle.policy import Policy
from slackemu import SlackEmulator
from store.db import Database
from store.models import AuditEntry, Decision, FlowRequest, OutboxMessage
from web.session import HKDF_INFO, HKDF_SALT, hkdf_sha256, session_key

HOSTILE = "<script>alert(1)</script>"


def csrf_of(client: httpx.Client, path: str = "/me") -> str:
    page = client.get(path).text
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def nothing_recorded(site: Site, before: dict[str, int]) -> None:
    assert counts(site) == before


def counts(site: Site) -> dict[str, int]:
    return {
        "decisions": site.count(Decision),
        "audit": site.count(AuditEntry),
        "outbox": site.count(OutboxMessage),
        "flows": site.count(FlowRequest),
    }


# ---------------------------------------------------------------- not signed in


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("path", ["/", "/pilots/pg-00000000", "/me", "/export/pilots.csv"])
def test_a_page_without_a_session_redirects_to_signin(site: Site, path: str) -> None:
    response = httpx.get(site.base_url + path, follow_redirects=False)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.path == "/signin" and parse_qs(location.query)["next"] == [path]


def test_an_answer_without_a_session_is_refused_and_records_nothing(site: Site) -> None:
    _, gate_id = site.propose_and_ask()
    request = site.requests(gate_id)[PMO1]
    before = counts(site)
    response = httpx.post(f"{site.base_url}/me/requests/{request.id}/approve", data={"csrf": "x"})
    assert response.status_code == 403
    nothing_recorded(site, before)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_listener_keeps_its_routes_beside_the_pages(site: Site) -> None:
    assert httpx.get(site.base_url + "/healthz").json() == {"ok": True}
    unsigned = httpx.post(site.events_url, data={"payload": "{}"})
    assert unsigned.status_code == 401  # bolt still verifies Slack's signature


# ---------------------------------------------------------------- signing in


@pytest.mark.parametrize("backend", ["sqlite"])
def test_signing_in_sets_a_guarded_session_cookie(site: Site) -> None:
    client = httpx.Client(base_url=site.base_url, follow_redirects=False)
    start = client.get("/signin?next=/me&login_hint=" + PMO1)
    assert start.status_code == 302
    authorize = urlsplit(start.headers["location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == (
        site.emu.openid_authorize_url
    )
    query = {k: v[-1] for k, v in parse_qs(authorize.query).items()}
    assert query["client_id"] == site.emu.client_id and query["response_type"] == "code"
    assert query["redirect_uri"] == site.base_url + "/signin/callback"
    assert query["team"] == site.emu.team_id and query["scope"] == "openid profile email"
    assert len(query["state"]) >= 32 and query["nonce"]
    signin_cookie = start.headers["set-cookie"]
    assert "HttpOnly" in signin_cookie and "samesite=lax" in signin_cookie.lower()

    back = httpx.get(start.headers["location"], follow_redirects=False)
    done = client.get(back.headers["location"])
    assert done.status_code == 303 and done.headers["location"] == "/me"
    cookie = next(c for c in done.headers.get_list("set-cookie") if "pilotgate_session=" in c)
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # http://127.0.0.1: a Secure cookie would never come back
    assert f"Max-Age={12 * 3600}" in cookie and "Path=/" in cookie
    me = client.get("/me")
    assert me.status_code == 200 and "Pat Moreno" in me.text  # the name Slack gave


@pytest.mark.parametrize("backend", ["sqlite"])
def test_behind_https_the_cookies_are_secure(
    db: Database, policy: Policy, emu: SlackEmulator
) -> None:
    runtime = make_runtime(db, policy, emu)
    server, _ = serve_site(runtime, emu, base_url="https://pilotgate.example.com")
    try:
        start = httpx.get(server.base_url + "/signin", follow_redirects=False)
    finally:
        server.stop()
    assert start.status_code == 302
    assert (
        "redirect_uri=https%3A%2F%2Fpilotgate.example.com%2Fsignin%2Fcallback"
        in (start.headers["location"])
    )
    cookie = start.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_callback_whose_state_does_not_match_signs_nobody_in(site: Site) -> None:
    client = httpx.Client(base_url=site.base_url, follow_redirects=False)
    start = client.get("/signin?login_hint=" + PMO1)
    back = urlsplit(httpx.get(start.headers["location"]).headers["location"])
    code = parse_qs(back.query)["code"][0]
    forged = client.get("/signin/callback", params={"code": code, "state": "forged-state"})
    assert forged.status_code == 400 and "pilotgate_session" not in client.cookies
    # Someone else's callback link, opened in a browser that never started a sign-in here.
    stranger = httpx.get(site.base_url + "/signin/callback?" + back.query)
    assert stranger.status_code == 400 and "pilotgate_session" not in stranger.cookies


@pytest.mark.parametrize("backend", ["sqlite"])
def test_only_our_workspace_signs_in(db: Database, policy: Policy, emu: SlackEmulator) -> None:
    runtime = make_runtime(db, policy, emu)
    server, _ = serve_site(runtime, emu, slack_team_id="T0SOMEONE")
    try:
        client = httpx.Client(base_url=server.base_url, follow_redirects=True)
        response = client.get("/signin?login_hint=" + PMO1)
        # The emulator refuses a sign-in for another team, as Slack does; a team id that
        # came back different would be refused by the pages too (web.signin.identify).
        assert response.status_code in (400, 403)
        assert "pilotgate_session" not in client.cookies
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_wrong_client_secret_signs_nobody_in(
    db: Database, policy: Policy, emu: SlackEmulator
) -> None:
    from pydantic import SecretStr

    runtime = make_runtime(db, policy, emu)
    server, _ = serve_site(runtime, emu, slack_client_secret=SecretStr("not-the-secret"))
    try:
        client = httpx.Client(base_url=server.base_url, follow_redirects=True)
        response = client.get("/signin?login_hint=" + PMO1)
        assert response.status_code == 403 and "bad_client_secret" in response.text
        assert "not-the-secret" not in response.text
        assert "pilotgate_session" not in client.cookies
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_next_never_leaves_the_site(site: Site) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client = httpx.Client(base_url=site.base_url, follow_redirects=False)
        start = client.get("/signin", params={"next": target, "login_hint": PMO1})
        back = httpx.get(start.headers["location"])
        done = client.get(back.headers["location"])
        assert done.headers["location"] == "/", target


@pytest.mark.parametrize("backend", ["sqlite"])
def test_without_client_credentials_sign_in_is_unavailable(
    db: Database, policy: Policy, emu: SlackEmulator
) -> None:
    runtime = make_runtime(db, policy, emu)
    server, _ = serve_site(runtime, emu, slack_client_id=None)
    try:
        assert httpx.get(server.base_url + "/").status_code == 503
        assert httpx.get(server.base_url + "/signin").status_code == 503
    finally:
        server.stop()


# ---------------------------------------------------------------- the session cookie


def _with_cookie(site: Site, value: str) -> httpx.Client:
    client = httpx.Client(base_url=site.base_url, follow_redirects=False)
    client.cookies.set("pilotgate_session", value, domain="127.0.0.1")
    return client


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_tampered_or_forged_cookie_is_no_session(site: Site) -> None:
    good = site.sign_in(PMO1).cookies["pilotgate_session"]
    anyone = URLSafeTimedSerializer(b"another-key", salt="pilotgate.web.session")
    signed, data = anyone.loads_unsafe(good)
    assert signed is False and data["u"] == PMO1
    data["u"] = FIN  # pretend to be finance, keeping the timestamp and the signature
    stamp_and_signature = good.rsplit(".", 2)[-2:]
    swapped = ".".join([anyone.dump_payload(data).decode(), *stamp_and_signature])
    # A changed character inside the signature (the last one may only carry padding bits).
    flipped = good[:-5] + ("A" if good[-5] != "A" else "B") + good[-4:]
    other_key = anyone.dumps(data)
    for forged in (swapped, flipped, other_key, "garbage", ""):
        response = _with_cookie(site, forged).get("/me")
        assert response.status_code == 302 and response.headers["location"].startswith("/signin"), (
            forged
        )
    assert _with_cookie(site, good).get("/me").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_expired_session_is_no_session(site: Site) -> None:
    key = session_key(site.runtime.settings)
    assert key is not None

    class ThirteenHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 13 * 3600

    old = URLSafeTimedSerializer(key, salt="pilotgate.web.session", signer=ThirteenHoursAgo).dumps(
        {"u": PMO1, "t": site.emu.team_id, "n": "Pat", "c": "x" * 43}
    )
    fresh = URLSafeTimedSerializer(key, salt="pilotgate.web.session").dumps(
        {"u": PMO1, "t": site.emu.team_id, "n": "Pat", "c": "x" * 43}
    )
    assert _with_cookie(site, old).get("/me").status_code == 302
    assert _with_cookie(site, fresh).get("/me").status_code == 200
    # The sign-in cookie's key is not the session's: one never passes for the other.
    signin = URLSafeTimedSerializer(key, salt="pilotgate.web.signin").dumps(
        {"u": PMO1, "t": site.emu.team_id, "n": "Pat", "c": "x" * 43}
    )
    assert _with_cookie(site, signin).get("/me").status_code == 302


def test_the_session_key_is_derived_with_hkdf_when_none_is_set() -> None:
    # RFC 5869, test case 1.
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    settings = Settings(_env_file=None, SLACK_SIGNING_SECRET="s3cret")  # type: ignore[call-arg]
    derived = session_key(settings)
    assert derived == hkdf_sha256(b"s3cret", salt=HKDF_SALT, info=HKDF_INFO)
    assert derived is not None and b"s3cret" not in derived and len(derived) == 32
    own = Settings(  # type: ignore[call-arg]
        _env_file=None, SLACK_SIGNING_SECRET="s3cret", PILOTGATE_SESSION_SECRET="mine"
    )
    assert session_key(own) == b"mine"
    assert session_key(Settings(_env_file=None)) is None  # type: ignore[call-arg]


# ---------------------------------------------------------------- answering on the page


def test_an_approval_on_the_page_is_recorded_as_a_slack_click_would_be(site: Site) -> None:
    pilot_id, gate_id = site.propose_and_ask()
    asked = site.requests(gate_id)
    pmo = site.sign_in(PMO1)
    response = pmo.post(
        f"/me/requests/{asked[PMO1].id}/approve",
        data={"csrf": csrf_of(pmo)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/me?recorded={asked[PMO1].id}"
    assert "Recorded: you approved" in pmo.get(response.headers["location"]).text
    with site.db.session() as session:
        decision = session.execute(select(Decision)).scalar_one()
        assert (decision.approver, decision.verdict, decision.source) == (PMO1, "approve", "web")
        audit = session.execute(
            select(AuditEntry).where(AuditEntry.action == "decision.approve")
        ).scalar_one()
        assert audit.data["source"] == "web" and audit.actor == PMO1
    assert site.wakes == []  # finance has not answered: the gate is still open

    fin = site.sign_in(FIN)
    reason = "Budget is not approved for this quarter."
    short = fin.post(
        f"/me/requests/{asked[FIN].id}/reject", data={"csrf": csrf_of(fin), "reason": " short "}
    )
    assert short.status_code == 400 and site.count(Decision) == 1
    fin.post(f"/me/requests/{asked[FIN].id}/reject", data={"csrf": csrf_of(fin), "reason": reason})
    with site.db.session() as session:
        rejected = session.execute(select(Decision).where(Decision.approver == FIN)).scalar_one()
        assert (rejected.verdict, rejected.reason, rejected.source) == ("reject", reason, "web")
        flows = session.execute(select(FlowRequest)).scalars().all()
        assert [(f.flow, f.parameters) for f in flows] == [("resolve-gate", {"gate_id": gate_id})]
    assert len(site.wakes) == 1  # the gate settled: the dispatcher is woken once

    # The Slack messages change through the outbox, as after a click.
    report = site.relay()
    assert not report.errors
    for approver, word in ((PMO1, "Approved"), (FIN, "Rejected")):
        message = site.emu.find_message(asked[approver].channel, asked[approver].message_ts)
        assert message is not None
        assert f"{word} by <@{approver}>" in (message.text or "")
        assert not any(b.get("type") == "actions" for b in message.blocks or [])
    assert reason in json.dumps(
        site.emu.find_message(asked[FIN].channel, asked[FIN].message_ts).blocks
    )  # type: ignore[union-attr]

    # Too late now: the gate is closed, and PMO2 is told so; nothing is recorded.
    pmo2 = site.sign_in(PMO2)
    before = counts(site)
    closed = pmo2.post(f"/me/requests/{asked[PMO2].id}/approve", data={"csrf": csrf_of(pmo2)})
    assert closed.status_code == 403 and "already closed (rejected)" in closed.text
    nothing_recorded(site, before)
    again = pmo.post(f"/me/requests/{asked[PMO1].id}/approve", data={"csrf": csrf_of(pmo)})
    assert again.status_code == 403  # the gate is closed; the first answer stands
    assert pilot_id in pmo.get("/me").text  # in "your recent answers"


def test_someone_else_s_request_or_one_s_own_pilot_is_refused_with_403(site: Site) -> None:
    _, gate_id = site.propose_and_ask()
    asked = site.requests(gate_id)
    before = counts(site)
    pmo2 = site.sign_in(PMO2)
    response = pmo2.post(f"/me/requests/{asked[FIN].id}/approve", data={"csrf": csrf_of(pmo2)})
    assert response.status_code == 403
    # named as the example policy names them (people.U0FIN0001.name)
    assert "not yours to decide" in response.text and "asked of Dana Smith" in response.text
    owner = site.sign_in(OWNER)  # the business owner: a member, never an approver here
    refused = owner.post(
        f"/me/requests/{asked[PMO1].id}/approve", data={"csrf": csrf_of(owner, "/")}
    )
    assert refused.status_code == 403 and "separation of duties" in refused.text
    outsider = site.sign_in(OUTSIDER)
    other = outsider.post(
        f"/me/requests/{asked[PMO1].id}/reject",
        data={"csrf": csrf_of(outsider, "/"), "reason": "I just do not like it at all"},
    )
    assert other.status_code == 403
    missing = pmo2.post("/me/requests/999999/approve", data={"csrf": csrf_of(pmo2)})
    assert missing.status_code == 404
    nothing_recorded(site, before)


def test_a_post_without_the_session_s_csrf_token_or_from_elsewhere_is_refused(site: Site) -> None:
    _, gate_id = site.propose_and_ask()
    request = site.requests(gate_id)[PMO1]
    pmo = site.sign_in(PMO1)
    url = f"/me/requests/{request.id}/approve"
    other = site.sign_in(PMO2)  # a valid token, of another session
    before = counts(site)
    attempts: list[dict[str, Any]] = [
        {"data": {}},
        {"data": {"csrf": ""}},
        {"data": {"csrf": "wrong-token"}},
        {"data": {"csrf": csrf_of(other)}},
        {"data": {"csrf": csrf_of(pmo)}, "headers": {"Origin": "https://evil.example"}},
        {"data": {"csrf": csrf_of(pmo)}, "headers": {"Sec-Fetch-Site": "cross-site"}},
    ]
    for attempt in attempts:
        response = pmo.post(url, **attempt)
        assert response.status_code == 403, attempt
    nothing_recorded(site, before)
    ok = pmo.post(url, data={"csrf": csrf_of(pmo)}, headers={"Origin": site.base_url})
    assert ok.status_code == 200 and site.count(Decision) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_signing_out_needs_the_form_token_and_drops_the_cookie(site: Site) -> None:
    pmo = site.sign_in(PMO1)
    assert pmo.post("/signout", data={"csrf": "wrong"}).status_code == 403
    assert pmo.get("/me", follow_redirects=False).status_code == 200
    out = pmo.post("/signout", data={"csrf": csrf_of(pmo)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signed-out"
    dropped = next(c for c in out.headers.get_list("set-cookie") if "pilotgate_session=" in c)
    assert "Max-Age=0" in dropped or "expires=" in dropped.lower()
    assert pmo.get("/me", follow_redirects=False).status_code == 302


# ---------------------------------------------------------------- what pages show


def test_hostile_text_is_escaped_on_every_page(site: Site) -> None:
    pilot_id, gate_id = site.propose_and_ask(title=HOSTILE, problem=f"Problem {HOSTILE}")
    site.emu.add_user(FIN, "fin", real_name='<img src=x onerror="alert(2)">')
    fin = site.sign_in(FIN)
    reason = f"Rejected because {HOSTILE}"
    request = site.requests(gate_id)[FIN]
    fin.post(f"/me/requests/{request.id}/reject", data={"csrf": csrf_of(fin), "reason": reason})
    for path in ("/", f"/pilots/{pilot_id}", "/me", f"/me?recorded={request.id}"):
        body = fin.get(path).text
        assert "<script>alert(1)</script>" not in body, path
        assert "<img src=x" not in body, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, path
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in fin.get("/me").text


def test_a_pilot_page_says_when_the_audit_chain_is_broken(site: Site) -> None:
    pilot_id, _ = site.propose_and_ask()
    pmo = site.sign_in(PMO1)
    assert "The audit chain is intact" in pmo.get(f"/pilots/{pilot_id}").text
    with site.db.session() as session:
        first = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().first()
        assert first is not None
        first.data = {**first.data, "title": "Someone rewrote history"}
    page = pmo.get(f"/pilots/{pilot_id}").text
    assert "The audit log fails its check at row 1" in page
    assert 'class="untrusted"' in page


@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_page_says_nothing_may_load_from_elsewhere(site: Site) -> None:
    pmo = site.sign_in(PMO1)
    for path in ("/", "/me", "/style.css", "/signed-out"):
        headers = pmo.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
    assert pmo.get("/").headers["cache-control"] == "no-store"


def test_someone_outside_the_policy_sees_the_portfolio_only(site: Site) -> None:
    pilot_id, _ = site.propose_and_ask()
    outsider = site.sign_in(OUTSIDER)
    portfolio = outsider.get("/")
    assert portfolio.status_code == 200 and "IT help-desk assistant" in portfolio.text
    assert f'href="/pilots/{pilot_id}"' not in portfolio.text and "/export/" not in portfolio.text
    assert outsider.get(f"/pilots/{pilot_id}").status_code == 403
    assert outsider.get("/export/pilots.csv").status_code == 403
    assert "Nothing is waiting for you" in outsider.get("/me").text
    # The technical lead is named in the proposal only: a member.
    lead = site.sign_in("U0TEC0001")
    assert lead.get(f"/pilots/{pilot_id}").status_code == 200


# ---------------------------------------------------------------- exports


def test_the_register_decisions_and_audit_log_export_as_csv_and_json(site: Site) -> None:
    pilot_id, gate_id = site.propose_and_ask(title='=HYPERLINK("https://evil.example")')
    other_id = site.propose("developer-productivity")
    pmo = site.sign_in(PMO1)
    pmo.post(f"/me/requests/{site.requests(gate_id)[PMO1].id}/approve", data={"csrf": csrf_of(pmo)})

    pilots_json = pmo.get("/export/pilots.json").json()
    assert [p["id"] for p in pilots_json] == [pilot_id, other_id]
    assert pilots_json[0]["open_gate"] == "proposal -> pilot"
    assert "Dana Smith (U0FIN0001, finance)" in pilots_json[0]["waiting_for"]
    filtered = pmo.get("/export/pilots.json?portfolio=engineering").json()
    assert [p["id"] for p in filtered] == [other_id]

    response = pmo.get("/export/pilots.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["title"] == '\'=HYPERLINK("https://evil.example")'  # not a formula

    decisions = pmo.get("/export/decisions.json").json()
    assert [(d["approver_slack_id"], d["verdict"], d["source"]) for d in decisions] == [
        (PMO1, "approve", "web")
    ]
    assert (
        list(csv.DictReader(io.StringIO(pmo.get("/export/decisions.csv").text)))[0]["verdict"]
        == "approve"
    )

    audit = pmo.get("/export/audit.json").json()
    assert [a["id"] for a in audit] == list(range(1, len(audit) + 1))
    assert audit[0]["prev_hash"] == "0" * 64 and all(len(a["hash"]) == 64 for a in audit)
    mine = pmo.get(f"/export/audit.json?pilot={other_id}").json()
    assert [a["action"] for a in mine] == ["pilot.proposed"]
    assert len(list(csv.DictReader(io.StringIO(pmo.get("/export/audit.csv").text)))) == len(audit)
    assert pmo.get("/export/secrets.csv").status_code == 404

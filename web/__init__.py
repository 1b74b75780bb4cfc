"""web: a page for every pilot and for the portfolio, signed in with Slack.

Starlette and jinja2, plain HTML and one small stylesheet: no JavaScript, no build step and
nothing loaded from anywhere but this server (the Content-Security-Policy says so). The pages
are another entry point beside the Slack listener (`slack_in`), on its layer: they read the
register through `store.read_pages` and the rules of `lifecycle`, and an answer given on a page
goes through exactly the path a Slack click takes (`tasks.answers.screen` then `record`, one
transaction, `source="web"`), so the same people may answer the same requests under the same
rules, and the Slack message updates because `record` queues its `chat.update`.

`web.app.create_web_app(runtime, clock=..., on_wake=...)` is the ASGI app (pages, sign-in,
exports, its security headers); `web.app.create_routes(...)` wraps it in one `Mount("")` to add
after another app's routes (the listener's `/slack/events` and `/healthz` keep theirs).

Pages: `/` the portfolio (attention first: overdue gates, gates due within 7 days, pilots past
or within 30 days of deploy-or-terminate, who is blocking each open gate, the cap per
portfolio; then the funnel and the register; `?portfolio=&stage=&owner=` filter all of it),
`/pilots/{id}` a pilot, `/me` my sign-offs (Approve / Reject, a reason of at least 10
characters), `/export/{pilots,decisions,audit}.{csv,json}`.

Who sees what (the one rule, `web.people`):

* Only people Slack signs in, from our workspace when `SLACK_TEAM_ID` is set, see anything;
  any other request for a page is redirected to `/signin` (a POST is refused with 403).
* A *member* is anyone in one of the policy's roles or named in any proposal in the register
  (proposer, business owner, technical lead, operations owner). Members see every page and
  export: governance is meant to be visible to the people who take part in it.
* Anyone else in the workspace sees the portfolio page only, read-only (no links to pilot
  pages, which answer 403, no exports) and an empty "my sign-offs": nobody outside the policy
  is ever asked, and `screen` would refuse their answer anyway.

Sign in with Slack (OpenID Connect, `web.signin`): `/signin` sends the browser to
`SLACK_OPENID_AUTHORIZE_URL` with a fresh `state` and `nonce` kept in a short-lived signed
cookie; `/signin/callback` checks the state, exchanges the code with `openid.connect.token`
(client id and secret), checks the id token's nonce, audience and team, reads
`openid.connect.userInfo`, and sets the session.

The session (`web.session`) is an itsdangerous-signed cookie (`HttpOnly`, `SameSite=Lax`,
`Secure` when `PILOTGATE_BASE_URL` is https, `Max-Age` and a signed timestamp checked against
`PILOTGATE_SESSION_HOURS`, 12 by default). It holds the Slack user id, team, name and the CSRF
token that every POST form carries; a POST also needs an `Origin` (when the browser sends one)
equal to `PILOTGATE_BASE_URL`'s. The key is `PILOTGATE_SESSION_SECRET`, or, when that is unset,
HKDF-SHA256 (RFC 5869) of `SLACK_SIGNING_SECRET` with salt `pilotgate-web-session` and info
`pilotgate web session cookie v1`: a key of its own that reveals nothing of the signing secret.
Sessions are stateless: `/signout` drops the cookie; changing the key signs everybody out.
Without a key or without `SLACK_CLIENT_ID` / `SLACK_CLIENT_SECRET`, sign-in answers 503 and
no page is shown. Secrets, codes and tokens are never logged nor put on a page.
"""

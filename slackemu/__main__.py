"""Run the Slack emulator standalone: ``python -m slackemu --port 8099 ...``.

For demos and for tests that drive an emulator living in another process
through its ``/_emu/`` HTTP control API.  Prints the Web API base URL (the
value for ``SLACK_API_URL``) as the first line on stdout, then serves until
interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .emulator import SlackEmulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m slackemu",
        description=(
            "Local Slack Web API emulator. Prints the API base URL (ends with /api/) on "
            "the first stdout line and serves until SIGINT/SIGTERM. Control API: "
            "GET /_emu/messages, /_emu/calls, /_emu/views, /_emu/interactions; "
            "POST /_emu/fail, /_emu/outage, /_emu/recover, /_emu/reset, /_emu/click, "
            "/_emu/submit, /_emu/trigger, /_emu/signin. Sign in with Slack: "
            "GET /openid/connect/authorize."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=8099,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--bot-token",
        default="xoxb-test-token",
        help="the only bot token accepted by the Web API (default: %(default)s)",
    )
    parser.add_argument(
        "--signing-secret",
        default="emu-signing-secret",
        help="secret used to sign interaction payloads sent to the listener; "
        "must match the app's SLACK_SIGNING_SECRET (default: %(default)s)",
    )
    parser.add_argument(
        "--listener-url",
        default=None,
        help="default URL of the app's Slack listener for /_emu/click and "
        "/_emu/submit (e.g. http://127.0.0.1:3000/slack/events)",
    )
    parser.add_argument(
        "--trigger-ttl",
        type=float,
        default=3.0,
        help="seconds a trigger_id stays valid for views.open (default: %(default)s, as Slack)",
    )
    parser.add_argument(
        "--client-id",
        default="emu-client-id",
        help="the app's client id for Sign in with Slack (default: %(default)s)",
    )
    parser.add_argument(
        "--client-secret",
        default="emu-client-secret",
        help="the app's client secret for openid.connect.token (default: %(default)s)",
    )
    parser.add_argument(
        "--signin-user",
        default=None,
        help="the user /openid/connect/authorize signs in when no login_hint names one "
        "(also POST /_emu/signin)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every Web API call to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    emu = SlackEmulator(
        bot_token=args.bot_token,
        signing_secret=args.signing_secret,
        host=args.host,
        port=args.port,
        listener_url=args.listener_url,
        trigger_ttl=args.trigger_ttl,
        verbose=args.verbose,
        client_id=args.client_id,
        client_secret=args.client_secret,
        signin_user=args.signin_user,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with emu:
        print(emu.api_url, flush=True)
        print(
            f"slackemu: serving on {emu.base_url} (control API under /_emu/); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

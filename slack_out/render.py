"""Block Kit from jinja2 templates.

Templates in slack_out/templates/ (shipped inside the package) produce JSON; strings go
through the `j` filter (Slack mrkdwn escaping, then JSON quoting) so a pilot titled
`<!channel> & co` cannot break a message or ping a channel. Every rendered block list is
parsed by slack_sdk's block models, so a template that produces a malformed block fails here,
in tests, and not in Slack.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from slack_sdk.models.blocks import Block

from slack_out.limits import fit_text

TEMPLATES = Path(__file__).resolve().parent / "templates"


def mrkdwn_escape(value: object) -> str:
    """The one escape for text people wrote (titles, names, reasons, notes) wherever Slack
    reads mrkdwn: `<!channel>`, `<https://...|label>` and `&` come out as plain text."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Mrkdwn(str):
    """Text that is already Slack mrkdwn: markup pilotgate meant (mentions, emoji, bold) with
    every user-written part escaped. Built only by `mrkdwn()`, so an unescaped string cannot
    pass for one."""


def mrkdwn(template: str, *parts: object) -> Mrkdwn:
    """`template.format(*parts)` with every part escaped: `mrkdwn("Rejected: {}", reason)`."""
    return Mrkdwn(template.format(*(mrkdwn_escape(p) for p in parts)))


def mention(user_id: str) -> Mrkdwn:
    """A mention of a Slack user id (ids are checked as U/W... by the policy models)."""
    return Mrkdwn(f"<@{mrkdwn_escape(user_id)}>")


def _j(value: object) -> str:
    """Escape for mrkdwn (unless it already is `Mrkdwn`) and quote as a JSON string."""
    if isinstance(value, Mrkdwn):
        return json.dumps(str(value))
    return json.dumps(mrkdwn_escape("" if value is None else value))


def _md(value: object) -> str:
    return "" if value is None else mrkdwn_escape(value)


def _raw_json(value: object) -> str:
    return json.dumps(value)


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["j"] = _j
    env.filters["md"] = _md
    env.filters["json"] = _raw_json
    env.filters["num"] = _num
    # `fit(2900)`: cut already-escaped mrkdwn at a safe place (never inside `&amp;` or `<...>`)
    env.filters["fit"] = fit_text
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d else "n/a"
    return env


def render_json(name: str, **context: Any) -> Any:
    text = environment().get_template(name).render(**context)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"template {name} did not produce JSON: {exc}") from None


def _check_blocks(name: str, blocks: list[Any]) -> None:
    """Parse every block with slack_sdk's models: a malformed one fails here, not in Slack."""
    for block in blocks:
        parsed = Block.parse(block)
        if parsed is None:
            raise ValueError(f"template {name}: not a block: {block!r}")
        parsed.validate_json()


def render_blocks(name: str, **context: Any) -> list[dict[str, Any]]:
    blocks = render_json(name, **context)
    if not isinstance(blocks, list) or len(blocks) > 50:
        raise ValueError(f"template {name} must produce a list of at most 50 blocks")
    _check_blocks(name, blocks)
    return blocks


def render_view(name: str, **context: Any) -> dict[str, Any]:
    view = render_json(name, **context)
    if not isinstance(view, dict) or view.get("type") != "modal":
        raise ValueError(f"template {name} must produce a modal view")
    _check_blocks(name, view.get("blocks", []))
    return view

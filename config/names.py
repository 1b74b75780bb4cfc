"""Names several layers must agree on, written once.

Flow names (kebab-case) are shared by the tasks that queue flow requests, the flows themselves,
the dispatcher and the deployments. Dedupe keys make an outbox row or a flow request unique, so
the code that writes one and the code that looks for one must build the key the same way.
"""

from __future__ import annotations

import re
from datetime import datetime

from lifecycle.stages import Stage

STAGE_FLOWS: dict[Stage, str] = {
    Stage.PROPOSAL: "proposal",
    Stage.PILOT: "pilot",
    Stage.READINESS_REVIEW: "readiness-review",
    Stage.INTERNAL_ROLLOUT: "internal-rollout",
    Stage.CUSTOMER_ROLLOUT: "customer-rollout",
}
RESOLVE_GATE = "resolve-gate"
TERMINATE = "terminate"
SWEEP = "sweep"
#: a pilot in production: its value review (sustain, adjust, retire) opened and asked.
VALUE_REVIEW = "value-review"
ALL_FLOWS: tuple[str, ...] = (
    *STAGE_FLOWS.values(),
    RESOLVE_GATE,
    TERMINATE,
    SWEEP,
    VALUE_REVIEW,
)

#: every flow is deployed under this name: `resolve-gate/pilotgate`, `sweep/pilotgate`, ...
#: (deployments/prefect.yaml declares them)
DEPLOYMENT = "pilotgate"
#: the tag every pilotgate deployment carries; the recovery automation matches it.
DEPLOYMENT_TAG = "pilotgate"
#: who acts when a programme manager or a flow does not say.
DEFAULT_ACTOR = "pilotgate"


class Keys:
    """Dedupe keys of outbox rows and flow requests (unique columns in the store)."""

    @staticmethod
    def resolve(gate_id: int) -> str:
        return f"resolve:{gate_id}"

    @staticmethod
    def terminate_after_gate(gate_id: int) -> str:
        return f"terminate:{gate_id}"

    @staticmethod
    def again(key: str, now: datetime) -> str:
        """A re-queue by the sweep's safety net: once per minute at most."""
        return f"{key}:again:{now:%Y%m%dT%H%M}"

    @staticmethod
    def enter(gate_id: int) -> str:
        return f"enter:{gate_id}"

    @staticmethod
    def reviewed(gate_id: int, person: str) -> str:
        """A settled value review told to one person (owner, programme office)."""
        return f"reviewed:{gate_id}:{person}"

    @staticmethod
    def retire_after_gate(gate_id: int) -> str:
        return f"retire:{gate_id}"

    @staticmethod
    def sweep(now: datetime) -> str:
        return f"sweep:{now:%Y%m%dT%H%M}"

    @staticmethod
    def ask(request_id: int) -> str:
        return f"ask:{request_id}"

    @staticmethod
    def remind(request_id: int, point: float) -> str:
        return f"remind:{request_id}:{point:.3f}"

    @staticmethod
    def home(user_id: str) -> str:
        """A person's first published App Home: the row that says they have one (the dedupe
        key is indexed, so "who has a Home" is a key look-up, not an outbox scan)."""
        return f"home:{user_id}"

    @staticmethod
    def undeliverable(request_id: int) -> str:
        return f"undeliverable:{request_id}"

    @staticmethod
    def extended(gate_id: int, request_id: int) -> str:
        return f"extended:{gate_id}:{request_id}"

    @staticmethod
    def moved(gate_id: int) -> str:
        return f"moved:{gate_id}"

    @staticmethod
    def sent_back(gate_id: int) -> str:
        return f"sentback:{gate_id}"

    @staticmethod
    def terminated(pilot_id: str, person: str) -> str:
        return f"terminated:{pilot_id}:{person}"

    @staticmethod
    def owner_warning(gate_id: int, deadline: datetime, person: str) -> str:
        """One warning per gate, deadline window and person told (an extension or escalation
        moves the deadline: a new window)."""
        return f"warn:{gate_id}:{deadline:%Y%m%dT%H%M}:{person}"

    @staticmethod
    def digest_hour(now: datetime) -> str:
        return f"digest:{now:%Y%m%dT%H}"

    @staticmethod
    def form_failed(trigger_id: str) -> str:
        """One "the form could not be opened" notice per click (a redelivered click has the
        same trigger_id); not limited like refusals, since each click deserves its answer."""
        return f"formfailed:{trigger_id[:150]}"

    @staticmethod
    def terminate_flow(pilot_id: str, earlier: int) -> str:
        """A pilot's terminate flow asked from Slack: two quick submissions queue one run;
        `earlier` (the pilot's terminate requests so far) lets a failed run be asked again."""
        return f"terminateflow:{pilot_id}:{earlier}"

    @staticmethod
    def refusal(user_id: str, now: datetime) -> str:
        """One refusal notice per person per 10 minutes: a stranger's 60 clicks are one notice."""
        return f"refused:{user_id}:{now:%Y%m%dT%H}{now.minute // 10}"


# ---------------------------------------------------------------- what Prefect shows
#
# Platform engineers find pilotgate's runs in Prefect's UI and CLI by these names, tags and
# artifact keys; the flows, the launchers that create runs and the CLI must build them alike.

_TAG_VALUE_JUNK = re.compile(r"[^a-z0-9_.-]+")
_KEY_JUNK = re.compile(r"[^a-z0-9-]+")
#: a run tag's value is cut to this many characters (pilot ids and portfolios are far shorter).
TAG_VALUE_MAX = 64


def tag_value(value: object) -> str:
    """One token Prefect's tag filters and the UI's tag chips take as it is: lowercase letters,
    digits, `_`, `.` and `-` (anything else becomes `-`), at most TAG_VALUE_MAX characters."""
    text = _TAG_VALUE_JUNK.sub("-", str(getattr(value, "value", value)).strip().lower())
    return text.strip("-")[:TAG_VALUE_MAX] or "unknown"


class Tags:
    """Tags on flow runs: `kind:value`, e.g. `pilot:pg-1a2b3c4d`, `portfolio:it-operations`,
    `stage:readiness_review` (the stored stage, as `pilotgate list --stage` takes it), `gate:12`;
    the sweep's runs carry `sweep` (and `dry-run`)."""

    SWEEP = "sweep"
    DRY_RUN = "dry-run"

    @staticmethod
    def pilot(pilot_id: str) -> str:
        return f"pilot:{tag_value(pilot_id)}"

    @staticmethod
    def portfolio(portfolio: str) -> str:
        return f"portfolio:{tag_value(portfolio)}"

    @staticmethod
    def stage(stage: Stage | str) -> str:
        return f"stage:{tag_value(stage)}"

    @staticmethod
    def gate(gate_id: int) -> str:
        return f"gate:{int(gate_id)}"

    @staticmethod
    def sweep(dry_run: bool = False) -> list[str]:
        return [Tags.SWEEP, Tags.DRY_RUN] if dry_run else [Tags.SWEEP]


class RunNames:
    """Flow-run names say what the run does and for whom: `readiness-review · pg-1a2b3c4d`,
    `resolve-gate · pg-1a2b3c4d gate 12`, `terminate · pg-1a2b3c4d`, `sweep (dry run)`."""

    SEPARATOR = " · "

    @staticmethod
    def for_pilot(flow: str, pilot_id: str) -> str:
        """A stage flow's or terminate's run."""
        return f"{flow}{RunNames.SEPARATOR}{pilot_id}"

    @staticmethod
    def resolve_gate(gate_id: int, pilot_id: str | None = None) -> str:
        """resolve-gate's run; without the pilot (not found) `resolve-gate · gate 12`."""
        who = f"{pilot_id} gate {gate_id}" if pilot_id else f"gate {gate_id}"
        return f"{RESOLVE_GATE}{RunNames.SEPARATOR}{who}"

    @staticmethod
    def sweep(dry_run: bool = False) -> str:
        return f"{SWEEP} (dry run)" if dry_run else SWEEP


class ArtifactKeys:
    """Keys of the Prefect artifacts the runs publish. Prefect allows lowercase letters, digits
    and dashes only (`prefect.types.names.raise_on_name_alphanumeric_dashes_only`); each key's
    versions are the history of one thing (one pilot's gates, the sweeps)."""

    SWEEP_REPORT = "sweep-report"
    SWEEP_DRY_RUN = "sweep-dry-run"

    @staticmethod
    def gate(pilot_id: str) -> str:
        """`gate-pg-1a2b3c4d`: the latest version is the pilot's current (or last) gate."""
        slug = _KEY_JUNK.sub("-", pilot_id.lower()).strip("-") or "unknown"
        return f"gate-{slug}"

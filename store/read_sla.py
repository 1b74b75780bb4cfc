"""Sign-off requests in the shape `lifecycle.sla` reasons about, for the report and the pages.

Both the portfolio report (every pilot) and the portfolio page (the filtered pilots) read the
same rows and must count them the same way; this is the one place rows become SLA facts.
Read-only: nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from lifecycle import sla
from store.models import Decision, Gate, SignoffRequest


def sla_facts(
    gates: Sequence[Gate],
    requests: Iterable[SignoffRequest],
    decisions: Iterable[Decision],
    reminders: Mapping[int, int],
) -> list[sla.Fact]:
    """One fact per request of `gates`: its gate, its answer (if any) and the reminders sent."""
    known = {
        g.id: sla.GateFacts(g.id, g.stage, g.status, g.deadline, dict(g.quorum)) for g in gates
    }
    decided = {d.request_id: d for d in decisions}
    asks = []
    for r in requests:
        d = decided.get(r.id)
        asks.append(
            sla.AskFacts(
                request_id=r.id,
                gate_id=r.gate_id,
                approver=r.approver,
                role=r.role,
                asked_at=r.asked_at,
                on_behalf_of=r.on_behalf_of,
                superseded=r.superseded_at is not None,
                decided_at=d.decided_at if d else None,
                verdict=d.verdict if d else None,
                reminders=reminders.get(r.id, 0),
            )
        )
    return sla.facts(known, asks)

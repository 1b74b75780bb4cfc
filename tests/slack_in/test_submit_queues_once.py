"""Dialog submissions and what they queue: a proposal wakes the dispatcher (its notice and the
Homes go out at once), and two terminate submissions that race queue one terminate flow.
Real listener over HTTP with the emulator; the race runs the real `_queue` on SQLite and
PostgreSQL, the first submission held open just before it commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from listener_scene import PMO1, PMO2, Scene
from sqlalchemy.orm import Session
from test_propose import GOOD, open_dialog, submit

from config.names import TERMINATE
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from slack_in import terminate_submit
from slack_in.deps import ListenerDeps, deps_for
from store import flow_queue


def test_a_recorded_proposal_wakes_the_dispatcher(scene: Scene) -> None:
    view_id = open_dialog(scene, PMO2)  # someone in a policy role may propose
    before = len(scene.wakes)
    assert submit(scene, PMO2, view_id, GOOD) is None
    assert len(scene.wakes) == before + 1


@dataclass(frozen=True)
class HeldDeps(ListenerDeps):
    """The listener's deps, but the transaction stops (flushed, not committed) until told."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.db.session() as session:
            yield session
            session.flush()
            self.reached.set()
            assert self.release.wait(10)


def test_two_racing_terminate_submissions_queue_one_flow(
    scene: Scene, helpdesk: Proposal, policy: Policy
) -> None:
    pilot_id, _ = scene.propose_and_ask(helpdesk, policy)
    plain = deps_for(scene.db)
    held = HeldDeps(
        db=scene.db,
        clock=plain.clock,
        on_wake=None,
        write_lock=plain.write_lock,
    )
    said: dict[str, Any] = {}

    def run(who: str, deps: ListenerDeps) -> None:
        said[who] = terminate_submit._queue(deps, who, pilot_id, "budget moved elsewhere")

    first = threading.Thread(target=run, args=(PMO1, held))
    first.start()
    assert held.reached.wait(10)  # PMO1's request is written, not yet committed
    second = threading.Thread(target=run, args=(PMO2, plain))
    second.start()
    second.join(0.5)  # PMO2 passes the in-flight check meanwhile (it sees nothing committed)
    held.release.set()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive()
    assert said[PMO1] is None
    with scene.db.session() as session:
        queued = [r for r in flow_queue.flow_requests(session, pilot_id) if r.flow == TERMINATE]
    assert len(queued) == 1
    assert queued[0].parameters["actor"] == PMO1

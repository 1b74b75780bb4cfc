"""The last two approvals of a two-role gate arrive at the same instant: exactly one of them
resolves the gate and asks for the resolve-gate flow, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

from listener_scene import FIN, PMO1, Ask, Scene
from sqlalchemy import select

from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from store.models import Decision, FlowRequest, Gate

ROUNDS = 3


def fire_together(scene: Scene, clicks: list[tuple[str, Ask]]) -> list[int]:
    """Each click an emulator click from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(clicks))
    statuses: list[int] = [0] * len(clicks)

    def click(i: int, user: str, ask: Ask) -> None:
        barrier.wait(timeout=10)
        statuses[i] = scene.click(user, ask).status_code

    threads = [threading.Thread(target=click, args=(i, user, ask))
               for i, (user, ask) in enumerate(clicks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return statuses


def test_two_final_approvals_at_once_resolve_the_gate_once(scene: Scene, helpdesk: Proposal,
                                                          policy: Policy) -> None:
    gates = []
    for round_ in range(ROUNDS):
        _, gate_id = scene.propose_and_ask(helpdesk, policy)
        asks = scene.asks(gate_id)
        clicks = [(PMO1, asks[PMO1]), (FIN, asks[FIN])]
        if round_ == ROUNDS - 1:
            clicks *= 3  # and each of them double-clicked twice, all at once
        assert fire_together(scene, clicks) == [200] * len(clicks)
        gates.append(gate_id)

    with scene.db.session() as session:
        for gate_id in gates:
            gate = session.get(Gate, gate_id)
            assert gate is not None and gate.status == "approved"
            approvers = session.execute(select(Decision.approver).where(
                Decision.gate_id == gate_id)).scalars().all()
            assert sorted(approvers) == sorted([PMO1, FIN])
        flows = session.execute(select(FlowRequest).where(
            FlowRequest.flow == "resolve-gate")).scalars().all()
    assert sorted(f.parameters["gate_id"] for f in flows) == sorted(gates)
    assert len(scene.wakes) == ROUNDS

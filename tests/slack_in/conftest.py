"""Fixtures for the listener tests (see listener_scene for the world they build)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from listener_scene import EXAMPLES, FIN, PMO1, PMO2, SECRET, TOKEN, Ask, Scene, make_runtime

from config.clock import utcnow
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal, load_proposal
from slack_in.server import start_in_thread
from slackemu import SlackEmulator
from store.db import Database
from tasks.runtime import set_runtime


@pytest.fixture(scope="session")
def helpdesk() -> Proposal:
    """Proposer U0PRO0001, owner U0BIZ0001; its proposal gate asks PMO1, PMO2 and FIN."""
    return load_proposal(EXAMPLES / "helpdesk-assistant.yaml")


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token=TOKEN, signing_secret=SECRET) as emulator:
        yield emulator


@pytest.fixture
def scene(db: Database, policy: Policy, emu: SlackEmulator) -> Iterator[Scene]:
    runtime = make_runtime(db, policy, emu)
    set_runtime(runtime)
    wakes: list[float] = []
    lock = threading.Lock()

    def on_wake() -> None:
        with lock:
            wakes.append(utcnow().timestamp())

    listener = start_in_thread(runtime, on_wake=on_wake)
    try:
        yield Scene(db, runtime, emu, listener, wakes)
    finally:
        listener.stop(wait=False)  # no request is in flight; don't wait for uvicorn's ticks
        set_runtime(None)


@pytest.fixture
def gate(scene: Scene, helpdesk: Proposal, policy: Policy) -> tuple[int, dict[str, Ask]]:
    """The helpdesk pilot's proposal gate (programme_office 1 + finance 1), asks delivered."""
    _, gate_id = scene.propose_and_ask(helpdesk, policy)
    asks = scene.asks(gate_id)
    assert set(asks) == {PMO1, PMO2, FIN}
    assert all(a.ts and a.channel == scene.emu.dm_channel_for(a.approver) for a in asks.values())
    return gate_id, asks

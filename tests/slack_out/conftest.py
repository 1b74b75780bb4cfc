"""Fixtures for the relay tests (see relay_world for the world they build)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from relay_world import TOKEN, World

from lifecycle.policy import Policy
from slackemu import SlackEmulator
from store.db import Database


@pytest.fixture
def world(db: Database, policy: Policy) -> Iterator[World]:
    with SlackEmulator(bot_token=TOKEN, signing_secret="relay-test-secret") as emu:
        yield World(db, policy, emu)


@pytest.fixture
def listener(world: World) -> Iterator[Any]:
    """The real bolt listener over HTTP on loopback, on the world's register and emulator."""
    from slack_in.server import start_in_thread
    from tasks.runtime import Runtime, set_runtime

    runtime = Runtime(world.settings(), db=world.db, policy=world.policy)
    set_runtime(runtime)
    # the emulator signs with the listener's secret
    world.emu.signing_secret = "relay-test-secret"
    thread = start_in_thread(runtime, clock=world.clock)
    try:
        yield thread
    finally:
        thread.stop(wait=False)
        set_runtime(None)

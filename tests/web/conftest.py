"""Fixtures for the web tests (see web_site for the world they build)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from web_site import OUTSIDER, SECRET, TOKEN, Site, make_runtime, serve_site

from config.clock import utcnow
from lifecycle.policy import Policy
from slackemu import SlackEmulator
from store.db import Database
from tasks.runtime import set_runtime


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token=TOKEN, signing_secret=SECRET) as emulator:
        emulator.add_user("U0PMO0001", "pmo1", real_name="Pat Moreno")
        emulator.add_user(OUTSIDER, "outsider", real_name="Oscar Outsider")
        yield emulator


@pytest.fixture
def site(db: Database, policy: Policy, emu: SlackEmulator) -> Iterator[Site]:
    """The pages and the listener on one loopback port, on SQLite and PostgreSQL (`db`)."""
    runtime = make_runtime(db, policy, emu)
    wakes: list[float] = []
    lock = threading.Lock()

    def on_wake() -> None:
        with lock:
            wakes.append(utcnow().timestamp())

    server, site_runtime = serve_site(runtime, emu, on_wake=on_wake)
    set_runtime(site_runtime)
    try:
        yield Site(db, site_runtime, emu, server, wakes)
    finally:
        server.stop()
        set_runtime(None)

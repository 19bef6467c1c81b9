"""Store fixtures: every conformance test runs once per driver.

The etcd driver runs against the session's real etcd (``etcd_endpoint`` in
``tests/conftest.py``); each test works under its own key prefix (``ns``) so
tests on the shared etcd cannot see each other's keys. Tests are plain functions that hand
an ``async def body(store)`` to ``run`` (no asyncio plugin needed).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kubelite.store import Store, open_store

Body = Callable[[Store], Awaitable[None]]
Runner = Callable[..., None]
_seq = itertools.count()


def _url(driver: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if driver == "sqlite":
        return f"sqlite://{tmp_path}/state.db"
    return "etcd://" + str(request.getfixturevalue("etcd_endpoint"))


@pytest.fixture(params=["sqlite", "etcd"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a store with no automatic compaction (tests compact by hand)."""
    return _url(request.param, tmp_path, request) + "?compact_interval=0"


@pytest.fixture
def ns() -> str:
    """A key prefix of this test's own, e.g. ``/t17/``."""
    return f"/t{next(_seq)}/"


def run_with(url: str, body: Body, timeout: float = 30) -> None:
    async def main() -> None:
        store = await open_store(url)
        try:
            await asyncio.wait_for(body(store), timeout)
        finally:
            await store.close()

    asyncio.run(main())


@pytest.fixture
def run(store_url: str) -> Runner:
    def runner(body: Body, url: str = store_url, timeout: float = 30) -> None:
        run_with(url, body, timeout)

    return runner

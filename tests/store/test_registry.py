"""Opening stores by URL, their options, and the automatic compaction policy."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest

from kubelite.errors import Invalid
from kubelite.store import StoreOptions, open_store
from kubelite.store.compaction import compaction_target
from kubelite.store.contracts import prefix_end


@pytest.mark.parametrize("url", ["mysql://x", "sqlite://relative.db", "sqlite:///", "etcd://", "etcd://host-no-port",
                                 "sqlite:///tmp/x.db?nonsense=1", "sqlite:///tmp/x.db?keep=-1",
                                 "sqlite:///tmp/x.db?retention=soon"])
def test_bad_urls_are_invalid(url: str) -> None:
    with pytest.raises(Invalid):
        asyncio.run(open_store(url))


def test_options_from_query() -> None:
    opts = StoreOptions.from_query({"retention": ["60"], "keep": ["10"], "ca": ["/x.pem"]})
    assert (opts.retention, opts.keep, opts.ca, opts.compact_interval) == (60.0, 10, "/x.pem", 60.0)


def test_prefix_end() -> None:
    assert prefix_end("/a/") == "/a0"
    assert prefix_end("") == ""
    assert prefix_end("a\U0010ffff") == "b"


def test_compaction_target_keeps_both_windows() -> None:
    samples: deque[tuple[float, int]] = deque()
    # 100 revisions a minute for ten minutes, sampled every minute
    targets = []
    for minute in range(11):
        samples.append((minute * 60.0, 100 * minute))
        targets.append(compaction_target(samples, minute * 60.0, 100 * minute, retention=300, keep=150))
    # nothing until a sample is 5 minutes old; then the revision from 5 minutes ago
    assert targets == [0, 0, 0, 0, 0, 0, 100, 200, 300, 400, 500]
    assert len(samples) <= 6  # samples older than needed are dropped
    # keep wins when it is the older bound
    assert compaction_target(deque([(0.0, 990)]), 1000.0, 1000, retention=300, keep=150) == 850
    assert compaction_target(deque(), 0.0, 1000, retention=0, keep=0) == 1000

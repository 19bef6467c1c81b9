"""Store benchmark: the sqlite and etcd drivers against raw etcd, in one run, on this machine.

What "raw etcd" means here, and why it is fair: etcd is driven directly through
its JSON gRPC-gateway over keep-alive HTTP from this same Python process
(plain aiohttp, a bare ``put``/``range``, no compare, no decoding into our
types) - the same transport our etcd driver uses, minus everything the store
adds. So ``etcd driver / raw`` is our overhead, and ``sqlite / raw`` answers
the issue's target (sqlite at least half of raw etcd's single-client write
rate). ``etcdctl put`` in a loop would measure process start-up (~15 ms), and
``etcdctl check perf`` runs 60 s with 50 clients; neither is a single-client
number. Native gRPC clients reach etcd faster than its gateway does, so raw
here is "raw etcd as reachable from Python without a gRPC stack".

Both etcd and sqlite fsync every commit (etcd's WAL, sqlite's WAL with
synchronous=FULL) on the same disk. Each figure is the median of --rounds.

    .venv/bin/python bench/store_bench.py [--n 1000] [--keys 10000] [--watchers 100] [--events 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kubelite.store import Store, open_store  # noqa: E402
from tests.etcd_server import EtcdServer  # noqa: E402

VALUE = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x" * 40, "labels": {"app": "bench"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox", "args": ["sleep", "1d"] * 60}]}
                    }).encode()[:1024]


def b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


class Raw:
    """etcd through its gateway with nothing of ours in between."""

    def __init__(self, endpoint: str) -> None:
        self.base = f"http://{endpoint}"
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        async with self.session.post(self.base + path, data=json.dumps(body)) as r:
            out: dict[str, object] = await r.json(content_type=None)
            return out

    async def create(self, key: str, value: bytes) -> None:
        await self._post("/v3/kv/put", {"key": b64(key), "value": b64(value)})

    async def get(self, key: str) -> None:
        await self._post("/v3/kv/range", {"key": b64(key)})

    async def list(self, prefix: str) -> int:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        res = await self._post("/v3/kv/range", {"key": b64(prefix), "range_end": b64(end)})
        kvs = res.get("kvs", [])
        assert isinstance(kvs, list)
        return len([base64.b64decode(kv["value"]) for kv in kvs])

    async def watch(self, prefix: str) -> AsyncIterator[int]:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        resp = await self.session.post(self.base + "/v3/watch", data=json.dumps(
            {"create_request": {"key": b64(prefix), "range_end": b64(end)}}), timeout=aiohttp.ClientTimeout())
        try:
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                while (nl := buf.find(b"\n")) >= 0:
                    line, buf = buf[:nl], buf[nl + 1:]
                    res = json.loads(line)["result"]
                    if res.get("created"):
                        yield 0
                    for _ in res.get("events", ()):
                        yield 1
        finally:
            resp.close()

    async def close(self) -> None:
        await self.session.close()


class Ours:
    """The Store API, as the API server will use it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, key: str, value: bytes) -> None:
        await self.store.create(key, value)

    async def get(self, key: str) -> None:
        await self.store.get(key)

    async def list(self, prefix: str) -> int:
        return len((await self.store.list(prefix)).items)

    async def watch(self, prefix: str) -> AsyncIterator[int]:
        async with await self.store.watch(prefix) as w:
            yield 0
            async for _ in w:
                yield 1

    async def close(self) -> None:
        await self.store.close()


Target = Raw | Ours


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    t = time.perf_counter()
    await fn()
    return time.perf_counter() - t


async def rate(n: int, clients: int, op: Callable[[int], Awaitable[None]]) -> float:
    async def client(c: int) -> None:
        for i in range(c, n, clients):
            await op(i)

    return n / await timed(lambda: asyncio.gather(*(client(c) for c in range(clients))))


async def fan_out(t: Target, prefix: str, watchers: int, events: int) -> tuple[float, float]:
    """(deliveries per second, ms from the last write until every watcher has seen it)."""
    done = asyncio.Event()
    remaining = [watchers]
    started: list[asyncio.Future[None]] = [asyncio.get_running_loop().create_future() for _ in range(watchers)]

    async def watcher(i: int) -> None:
        seen = 0
        async for n in t.watch(prefix):
            if not started[i].done():
                started[i].set_result(None)
            seen += n
            if seen == events:
                remaining[0] -= 1
                if not remaining[0]:
                    done.set()
                return

    tasks = [asyncio.create_task(watcher(i)) for i in range(watchers)]
    await asyncio.gather(*started)
    t0 = time.perf_counter()
    for i in range(events):
        await t.create(f"{prefix}{i}", VALUE)
    t_written = time.perf_counter()
    await asyncio.wait_for(done.wait(), 120)
    t_end = time.perf_counter()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return watchers * events / (t_end - t0), (t_end - t_written) * 1000


async def bench(name: str, t: Target, a: argparse.Namespace, run_id: str) -> dict[str, float]:
    out: dict[str, list[float]] = {}

    def creator(prefix: str) -> Callable[[int], Awaitable[None]]:
        return lambda i: t.create(f"{prefix}{i}", VALUE)

    def getter(prefix: str) -> Callable[[int], Awaitable[None]]:
        return lambda i: t.get(f"{prefix}{i % a.n}")

    for r in range(a.rounds):
        p = f"/bench/{run_id}/{name}/r{r}/"
        out.setdefault("create/s 1 client", []).append(await rate(a.n, 1, creator(p + "c")))
        out.setdefault("create/s 16 clients", []).append(await rate(a.n, 16, creator(p + "cc")))
        out.setdefault("get/s 1 client", []).append(await rate(a.n, 1, getter(p + "c")))
        out.setdefault("get/s 16 clients", []).append(await rate(a.n, 16, getter(p + "c")))
    lp = f"/bench/{run_id}/{name}/list/"
    await rate(a.keys, 32, lambda i: t.create(f"{lp}{i:06}", VALUE))
    for _ in range(a.rounds):
        n = 0

        async def listing() -> None:
            nonlocal n
            n = await t.list(lp)

        out.setdefault(f"list {a.keys} ms", []).append(await timed(listing) * 1000)
        assert n == a.keys, (name, n)
    for r in range(a.rounds):
        d, lat = await fan_out(t, f"/bench/{run_id}/{name}/w{r}/", a.watchers, a.events)
        out.setdefault(f"watch x{a.watchers}: deliveries/s", []).append(d)
        out.setdefault(f"watch x{a.watchers}: drain ms", []).append(lat)
    return {k: statistics.median(v) for k, v in out.items()}


async def main_async(a: argparse.Namespace) -> None:
    results: dict[str, dict[str, float]] = {}
    run_id = str(int(time.time()))
    with tempfile.TemporaryDirectory(prefix="kubelite-store-bench-", dir=a.dir) as tmp, EtcdServer() as etcd:
        targets: list[tuple[str, Callable[[], Awaitable[Target]]]] = []

        async def raw() -> Target:
            return Raw(etcd.endpoint)

        async def sqlite() -> Target:
            return Ours(await open_store(f"sqlite://{tmp}/state.db?compact_interval=0&watch_queue=100000"))

        async def etcd_driver() -> Target:
            return Ours(await open_store(f"etcd://{etcd.endpoint}?compact_interval=0"))

        targets = [("raw etcd", raw), ("etcd driver", etcd_driver), ("sqlite", sqlite)]
        for name, make in targets:
            if a.drivers and name not in a.drivers:
                continue
            print(f"# {name} ...", file=sys.stderr, flush=True)
            t = await make()
            try:
                results[name] = await bench(name.replace(" ", "-"), t, a, run_id)
            finally:
                await t.close()
    metrics = list(next(iter(results.values())))
    names = list(results)
    print(f"{'metric (median of ' + str(a.rounds) + ')':34}" + "".join(f"{n:>14}" for n in names)
          + ("".join(f"{n + '/raw':>18}" for n in names if n != "raw etcd") if "raw etcd" in results else ""))
    for m in metrics:
        row = f"{m:34}" + "".join(f"{results[n][m]:14.1f}" for n in names)
        if "raw etcd" in results:
            row += "".join(f"{results[n][m] / results['raw etcd'][m]:18.2f}" for n in names if n != "raw etcd")
        print(row)
    print("(ratios > 1 are better for rates, worse for ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="operations per rate measurement")
    ap.add_argument("--keys", type=int, default=10000, help="keys in the list measurement")
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--events", type=int, default=200, help="events written per fan-out round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the sqlite database goes (default: $TMPDIR)")
    ap.add_argument("--drivers", nargs="*", help="a subset of: 'raw etcd' 'etcd driver' sqlite")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()

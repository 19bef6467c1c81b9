"""The etcd driver: the store contract on a real etcd v3 cluster, ``etcd://host:port[,host:port...]``.

Each contract operation is one etcd request, so etcd's own atomicity does all
the work: ``create`` is a transaction "if create_revision(key) == 0 then put",
``update``/``delete`` are "if mod_revision(key) == expected then put/delete
(returning the previous value) else read the key" so a failure tells NotFound
from Conflict without a second round trip. Revisions are etcd's, unchanged.

Watch: etcd's ``start_revision`` is inclusive and refuses revisions below the
compacted one, while the contract delivers changes strictly *after* R and
refuses R below the compacted revision. Watching from ``start_revision = R``
and skipping revision R itself gives exactly the contract on both counts.
etcd confirms a watch from a compacted revision and cancels it a message
later, so ``watch`` first reads at R to raise ``Gone`` up front. A
watch whose stream breaks (an endpoint went down) reconnects to the next
endpoint from the last revision it delivered, retrying for ``timeout``
seconds (an etcd restart), so the consumer sees no gap.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp

from kubelite.errors import AlreadyExists, Conflict, Gone, Invalid, NotFound, Unavailable
from kubelite.store.compaction import AutoCompactor
from kubelite.store.contracts import Event, KeyValue, ListResult, Watch, WatchBase, prefix_end
from kubelite.store.etcd_gateway import Gateway, Json, b64, error_from, unb64
from kubelite.store.options import StoreOptions

ALL_KEYS_END = b64(b"\0")  # range_end "\0" means "every key >= key"


def _kv(d: Json) -> KeyValue:
    return KeyValue(unb64(d.get("key")).decode(), unb64(d.get("value")), int(d.get("create_revision", 0)),
                    int(d.get("mod_revision", 0)))


def _range_end(prefix: str) -> str:
    end = prefix_end(prefix)
    return b64(end) if end else ALL_KEYS_END


def _exists(key: str, expected_revision: int) -> Json:
    if expected_revision:
        return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(expected_revision)}
    return {"key": b64(key), "target": "CREATE", "result": "GREATER", "create_revision": "0"}


def _rev(d: Json) -> int:
    return int(d.get("header", {}).get("revision", 0))


class EtcdWatch(WatchBase):
    def __init__(self, gw: Gateway, prefix: str, after: int, retry_for: float) -> None:
        self._gw = gw
        self._retry_for = retry_for
        self._prefix = prefix
        self._last = after
        self._pending: list[Event] = []
        self._stream: AsyncGenerator[Json, None] | None = None
        self._closed = False

    async def start(self) -> None:
        """Open the stream (on any endpoint) and wait until etcd confirms the watch, or refuses it."""
        req: Json = {"key": b64(self._prefix), "range_end": _range_end(self._prefix), "prev_kv": True}
        if self._last:
            req["start_revision"] = str(self._last)
        self._stream = self._gw.stream("/v3/watch", {"create_request": req})
        async for msg in self._stream:
            res = msg.get("result", {})
            if res.get("canceled"):
                raise error_from({"message": f"required revision has been compacted ({res})"}
                                 if res.get("compact_revision") else res, f"watch {self._prefix!r}")
            if res.get("created"):
                if not self._last:
                    self._last = _rev(res)
                self._take(res)
                return
        raise Unavailable(f"etcd closed the watch on {self._prefix!r} before it started")

    def _take(self, res: Json) -> None:
        for e in res.get("events", ()):
            kv = _kv(e["kv"])
            if kv.mod_revision <= self._last:
                continue
            prev = _kv(e["prev_kv"]) if e.get("prev_kv") else None
            if e.get("type") == "DELETE":
                kv = KeyValue(kv.key, prev.value if prev else b"", prev.create_revision if prev else 0,
                              kv.mod_revision)
                self._pending.append(Event("DELETE", kv, prev))
            else:
                self._pending.append(Event("PUT", kv, prev))

    async def __anext__(self) -> Event:
        while not self._pending:
            if self._closed or self._stream is None:
                raise StopAsyncIteration
            try:
                msg = await self._stream.__anext__()
            except StopAsyncIteration:
                msg = None
            except (aiohttp.ClientError, OSError, ValueError, TimeoutError):
                msg = None
            if msg is None:  # the stream ended (endpoint down): resume from the last delivered revision
                if self._closed:
                    raise StopAsyncIteration
                await self._reconnect()
                continue
            res = msg.get("result", {})
            if res.get("canceled"):
                self._closed = True
                raise error_from({"message": "required revision has been compacted"}
                                 if res.get("compact_revision") else res, f"watch {self._prefix!r}")
            self._take(res)
        ev = self._pending.pop(0)
        self._last = ev.revision
        return ev

    async def _reconnect(self) -> None:
        """Resume after the last delivered revision, retrying for ``timeout`` seconds (an etcd restart)."""
        await self._close_stream()
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self._retry_for, 0.05
        while True:
            try:
                await self.start()
                return
            except Unavailable:
                await self._close_stream()
                if loop.time() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _close_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.aclose()

    async def aclose(self) -> None:
        self._closed = True
        self._pending.clear()
        await self._close_stream()


class EtcdStore:
    def __init__(self, endpoints: list[str], options: StoreOptions | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.options = options or StoreOptions()
        self.gw = Gateway(endpoints, self.options.timeout, ssl_context)
        self._compactor = AutoCompactor(self, self.options)

    @classmethod
    async def open(cls, endpoints: list[str], options: StoreOptions | None = None,
                   ssl_context: ssl.SSLContext | None = None) -> EtcdStore:
        self = cls(endpoints, options, ssl_context)
        try:
            await self.current_revision()
        except BaseException:
            await self.gw.close()
            raise
        self._compactor.start()
        return self

    async def _txn(self, compare: Json, success: Json, failure: Json | None = None) -> Json:
        body: dict[str, Any] = {"compare": [compare], "success": [success]}
        if failure:
            body["failure"] = [failure]
        return await self.gw.call("/v3/kv/txn", body, idempotent=False)

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        body: Json = {"key": b64(key)}
        if revision:
            body["revision"] = str(revision)
        kvs = (await self.gw.call("/v3/kv/range", body, idempotent=True)).get("kvs")
        if not kvs:
            raise NotFound(f"key {key!r} not found")
        return _kv(kvs[0])

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        if limit < 0 or revision < 0:
            raise Invalid("limit and revision must not be negative")
        start = start_after + "\0" if start_after and start_after >= prefix else prefix
        body: Json = {"key": b64(start), "range_end": _range_end(prefix)}
        if revision:
            body["revision"] = str(revision)
        if limit:
            body["limit"] = str(limit)
        res = await self.gw.call("/v3/kv/range", body, idempotent=True)
        items = [_kv(d) for d in res.get("kvs", ())]
        more = bool(res.get("more")) and bool(items)
        return ListResult(items, revision or _rev(res), more, items[-1].key if more else "")

    async def count(self, prefix: str) -> int:
        body = {"key": b64(prefix), "range_end": _range_end(prefix), "count_only": True}
        return int((await self.gw.call("/v3/kv/range", body, idempotent=True)).get("count", 0))

    async def create(self, key: str, value: bytes) -> KeyValue:
        res = await self._txn({"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"},
                              {"request_put": {"key": b64(key), "value": b64(value)}})
        if not res.get("succeeded"):
            raise AlreadyExists(f"key {key!r} exists")
        rev = _rev(res)
        return KeyValue(key, bytes(value), rev, rev)

    def _failed(self, key: str, res: Json) -> Exception:
        kvs = res.get("responses", [{}])[0].get("response_range", {}).get("kvs")
        if not kvs:
            return NotFound(f"key {key!r} not found")
        return Conflict(f"key {key!r} is at revision {kvs[0].get('mod_revision')}")

    async def update(self, key: str, value: bytes, expected_revision: int = 0) -> KeyValue:
        res = await self._txn(_exists(key, expected_revision),
                              {"request_put": {"key": b64(key), "value": b64(value), "prev_kv": True}},
                              {"request_range": {"key": b64(key)}})
        if not res.get("succeeded"):
            raise self._failed(key, res)
        prev = _kv(res["responses"][0]["response_put"]["prev_kv"])
        return KeyValue(key, bytes(value), prev.create_revision, _rev(res))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        res = await self._txn(_exists(key, expected_revision),
                              {"request_delete_range": {"key": b64(key), "prev_kv": True}},
                              {"request_range": {"key": b64(key)}})
        if not res.get("succeeded"):
            raise self._failed(key, res)
        prev = _kv(res["responses"][0]["response_delete_range"]["prev_kvs"][0])
        return KeyValue(key, prev.value, prev.create_revision, _rev(res))

    async def watch(self, prefix: str, revision: int = 0) -> Watch:
        if revision < 0:
            raise Invalid("revision must not be negative")
        if revision:
            # etcd confirms a watch from a compacted revision and cancels it only in its next message; a
            # read at the revision first makes `await watch()` itself raise Gone (a compaction racing with
            # this still ends the watch with Gone, from the iterator).
            try:
                await self.gw.call("/v3/kv/range", {"key": b64(prefix), "revision": str(revision),
                                                    "count_only": True}, idempotent=True)
            except Invalid:
                pass  # a future revision: watching from there is fine
        w = EtcdWatch(self.gw, prefix, revision, self.options.timeout)
        try:
            await w.start()
        except BaseException:
            await w.aclose()
            raise
        return w

    async def current_revision(self) -> int:
        res = await self.gw.call("/v3/kv/range", {"key": b64("\0"), "count_only": True}, idempotent=True)
        return _rev(res)

    async def compact(self, revision: int) -> None:
        try:
            await self.gw.call("/v3/kv/compaction", {"revision": str(revision)}, idempotent=True)
        except Gone:
            pass  # compacted to there or further already: the contract makes this a no-op

    async def close(self) -> None:
        await self._compactor.stop()
        await self.gw.close()

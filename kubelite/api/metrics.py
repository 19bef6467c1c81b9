"""Serving ``metrics.k8s.io/v1beta1`` from the node agents' Summary API, as metrics-server does.

A list or get asks the agents concerned (every node with a kubelet endpoint,
or the one node a pod runs on) for ``/stats/summary?only_cpu_and_memory=true``
with the API server's kubelet-client certificate, all at once and each with a
short timeout; a node that does not answer is left out of the list (and a get
of it or of its pods is a 404), as metrics-server leaves out nodes it could not
scrape. Usage is metrics-server's: CPU is the agent's ``usageNanoCores`` (the
rate since its previous sample) in nanocores, memory the working set in Ki.
A pod or node without a CPU rate yet is left out rather than shown as idle.

``window`` is the time since this server's previous scrape of the node, which is
what the agent's rate covers when nobody else asked it in between; the first
scrape of a node reports none.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiohttp import web

from kubelite.api import jsonfast
from kubelite.api.codec import Accept
from kubelite.api.errors import MethodNotAllowed, Resource, ResourceNotFound
from kubelite.api.meta import now_rfc3339
from kubelite.api.nodeproxy import KUBELET_CLIENT, agent_url, node_endpoint
from kubelite.api.registry import REGISTRY
from kubelite.api.registry.base import Obj, Strategy
from kubelite.api.storage import Selection, Storage
from kubelite.api.tables import table
from kubelite.errors import KubeliteError, NotFound, Unavailable

SCRAPE_TIMEOUT = 5.0
_last_scrape: dict[str, float] = {}  # node name -> monotonic time of this server's previous scrape


def _usage(cpu: Obj | None, memory: Obj | None) -> Obj | None:
    nano = (cpu or {}).get("usageNanoCores")
    working = (memory or {}).get("workingSetBytes")
    if nano is None or working is None:
        return None
    return {"cpu": f"{int(nano)}n", "memory": f"{int(working) // 1024}Ki"}


def _window(node: str) -> str | None:
    now = time.monotonic()
    last = _last_scrape.get(node)
    _last_scrape[node] = now
    return None if last is None else f"{now - last:.3f}s"


async def _summary(session: aiohttp.ClientSession, ctx: Any, node: Obj) -> Obj | None:
    try:
        host, port = node_endpoint(node)
    except Unavailable:
        return None
    try:
        async with session.get(agent_url(host, port, "/stats/summary?only_cpu_and_memory=true"), ssl=ctx) as resp:
            if resp.status != 200:
                return None
            out: Obj = jsonfast.loads(await resp.read())
            return out
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return None


async def _scrape(req: web.Request, nodes: list[Obj]) -> list[tuple[Obj, Obj, str | None]]:
    """(node, summary, window) of each node that answered."""
    ctx = req.app.get(KUBELET_CLIENT)
    if ctx is None:
        raise Unavailable("the API server has no credentials for the node agents (it runs without TLS)")
    timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        got = await asyncio.gather(*(_summary(session, ctx, n) for n in nodes))
    return [(n, s, _window(n["metadata"]["name"])) for n, s in zip(nodes, got, strict=True) if s is not None]


def _meta(obj: Obj, namespaced: bool) -> Obj:
    md = obj.get("metadata") or {}
    out: Obj = {"name": md.get("name", "")}
    if namespaced:
        out["namespace"] = md.get("namespace", "")
    out["creationTimestamp"] = now_rfc3339()
    if md.get("labels"):
        out["labels"] = md["labels"]
    return out


def _item(s: Strategy, meta: Obj, stamp: str, window: str | None, **rest: Any) -> Obj:
    out: Obj = {"kind": s.kind, "apiVersion": s.api_version, "metadata": meta, "timestamp": stamp}
    if window is not None:
        out["window"] = window
    return {**out, **rest}


def _not_found(s: Strategy, ns: str, name: str) -> ResourceNotFound:
    """metrics-server's words: ``podmetrics.metrics.k8s.io "default/x" not found``."""
    return ResourceNotFound(Resource(s.group, s.kind.lower(), s.kind), f"{ns}/{name}" if ns else name)


async def _get(storage: Storage, kind: Strategy, s: Strategy, ns: str, name: str) -> Obj:
    try:
        return await storage.get(kind, ns, name)
    except NotFound:
        raise _not_found(s, ns, name) from None


async def _node_metrics(req: web.Request, storage: Storage, s: Strategy, sel: Selection, name: str) -> list[Obj]:
    nodes_kind = REGISTRY.lookup("", "v1", "nodes")
    assert nodes_kind is not None
    nodes = [await _get(storage, nodes_kind, s, "", name)] if name else (await storage.list(nodes_kind, "", sel)).items
    out = []
    for node, summary, window in await _scrape(req, nodes):
        stats = summary.get("node") or {}
        usage = _usage(stats.get("cpu"), stats.get("memory"))
        if usage is not None:
            stamp = (stats.get("cpu") or {}).get("time") or now_rfc3339()
            out.append(_item(s, _meta(node, False), stamp, window, usage=usage))
    return out


async def _pod_metrics(req: web.Request, storage: Storage, s: Strategy, ns: str, sel: Selection,
                       name: str) -> list[Obj]:
    pods_kind, nodes_kind = REGISTRY.lookup("", "v1", "pods"), REGISTRY.lookup("", "v1", "nodes")
    assert pods_kind is not None and nodes_kind is not None
    pods = [await _get(storage, pods_kind, s, ns, name)] if name else (await storage.list(pods_kind, ns, sel)).items
    by_uid = {p["metadata"].get("uid"): p for p in pods if (p.get("spec") or {}).get("nodeName")}
    wanted = {p["spec"]["nodeName"] for p in by_uid.values()}
    nodes = []
    for node_name in sorted(wanted):
        try:
            nodes.append(await storage.get(nodes_kind, "", node_name))
        except KubeliteError:
            continue
    out = []
    for _node, summary, window in await _scrape(req, nodes):
        for ps in summary.get("pods") or []:
            pod = by_uid.get((ps.get("podRef") or {}).get("uid"))
            if pod is None:
                continue
            containers = []
            for c in ps.get("containers") or []:
                usage = _usage(c.get("cpu"), c.get("memory"))
                if usage is None:
                    break
                containers.append({"name": c.get("name", ""), "usage": usage})
            else:
                stamp = (ps.get("cpu") or {}).get("time") or now_rfc3339()
                out.append(_item(s, _meta(pod, True), stamp, window, containers=containers))
    out.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    return out


async def serve(req: web.Request, storage: Storage, s: Strategy, ns: str, name: str) -> web.Response:
    """GET of a NodeMetrics/PodMetrics, or the list of them (label and field selectors as for any list)."""
    if req.method != "GET":
        raise MethodNotAllowed()
    sel = Selection.parse(REGISTRY.lookup("", "v1", s.plural) or s, req.query.get("labelSelector", ""),
                          req.query.get("fieldSelector", ""))
    if s.namespaced:
        items = await _pod_metrics(req, storage, s, ns, sel, name)
    else:
        items = await _node_metrics(req, storage, s, sel, name)
    if name and not items:
        raise _not_found(s, ns, name)
    accept = Accept.parse(req.headers.get("Accept", ""))
    if accept.table:
        body: Obj = table(s, items, req.query.get("includeObject", "Metadata"))
    elif name:
        body = items[0]
    else:
        body = {"kind": f"{s.kind}List", "apiVersion": s.api_version, "metadata": {}, "items": items}
    return web.Response(body=jsonfast.dumps(body), content_type="application/json")

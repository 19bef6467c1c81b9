"""``ttlSecondsAfterFinished``: a finished Job deletes itself (and, through the garbage collector, its pods).

kube runs this as the separate ttl-after-finished controller; here the Job
controller calls :func:`expire` from its sync of a finished Job, which needs no
other cache. The clock starts at ``completionTime`` or, for a failed Job, the
``Failed`` condition's transition; the delete is Background with a uid
precondition, so a namesake created meanwhile is never touched.
"""

from __future__ import annotations

import time
from typing import Any

from kubelite.api.client import APIClient, resource_path
from kubelite.controllers.jobstatus import COMPLETE, FAILED, condition
from kubelite.controllers.podcontrol import parse_time
from kubelite.errors import NotFound

Obj = dict[str, Any]


async def expire(client: APIClient, job: Obj) -> float | None:
    """Delete ``job`` if its TTL has run out; else the seconds left (None without a TTL)."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None:
        return None
    st = job.get("status") or {}
    finished = parse_time(st.get("completionTime")) or parse_time(
        (condition(job, FAILED) or condition(job, COMPLETE) or {}).get("lastTransitionTime"))
    left = (finished or time.time()) + int(ttl) - time.time()
    if left > 0:
        return left
    md = job["metadata"]
    try:
        await client.delete(resource_path("batch/v1", "jobs", md["namespace"], md["name"]),
                            {"propagationPolicy": "Background", "preconditions": {"uid": md["uid"]}})
    except NotFound:
        pass
    return None

"""The scheduling queue on its own: order, back-off, parking and the events that wake parked pods."""

from __future__ import annotations

import asyncio

from kubelite.scheduler import queue as q
from kubelite.scheduler.nodeinfo import PodInfo
from kubelite.scheduler.plugins.prioritysort import PrioritySort
from tests.scheduler.helpers import pod


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make() -> tuple[q.SchedulingQueue, Clock]:
    clock = Clock()
    return q.SchedulingQueue(PrioritySort().sort_key, clock), clock


def names(queue: q.SchedulingQueue) -> list[str]:
    out = []
    while (qp := queue.pop_nowait()) is not None:
        out.append(qp.pi.key.split("/")[1])
    return out


def test_higher_priority_first_then_first_come() -> None:
    queue, clock = make()
    for name, prio in (("a", 0), ("b", 10), ("c", 0), ("d", 10)):
        queue.add(PodInfo.of(pod(name, priority=prio)))
        clock.t += 1
    assert names(queue) == ["b", "d", "a", "c"]


def test_unschedulable_pods_wait_for_a_helpful_event_then_back_off() -> None:
    queue, clock = make()
    queue.add(PodInfo.of(pod("big")))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.requeue(qp, {"NodeResourcesFit"})
    assert queue.pop_nowait() is None and "default/big" in queue.unschedulable
    queue.move(q.POD_ADD)  # an assigned pod appearing does not help a pod that lacked room
    assert "default/big" in queue.unschedulable
    queue.move(q.POD_DELETE)  # a deletion frees room: back-off first (1 s after the first failure)
    assert queue.pop_nowait() is None and "default/big" in queue.backoff
    clock.t += 1.01
    assert names(queue) == ["big"]


def test_back_off_doubles_up_to_ten_seconds() -> None:
    queue, clock = make()
    queue.add(PodInfo.of(pod("p")))
    waits = []
    for _ in range(6):
        qp = queue.pop_nowait()
        assert qp is not None
        queue.requeue(qp, set(), error=True)
        waits.append(qp.backoff_until - clock.t)
        clock.t = qp.backoff_until
    assert waits == [1, 2, 4, 8, 10, 10]


def test_an_event_during_the_cycle_is_not_lost() -> None:
    queue, clock = make()
    queue.add(PodInfo.of(pod("p")))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.move(q.NODE_ADD)  # while the pod was being scheduled
    queue.requeue(qp, {"NodeResourcesFit"})
    assert "default/p" not in queue.unschedulable and "default/p" in queue.backoff


def test_long_parked_pods_are_retried_anyway() -> None:
    queue, clock = make()
    queue.add(PodInfo.of(pod("p")))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.requeue(qp, {"TaintToleration"})
    clock.t += q.UNSCHEDULABLE_TIMEOUT + q.FLUSH_INTERVAL
    assert names(queue) == ["p"]


def test_a_flood_of_unschedulable_pods_lets_new_pods_through() -> None:
    queue, clock = make()
    for i in range(1000):
        queue.add(PodInfo.of(pod(f"stuck{i}", priority=100)))
    while (qp := queue.pop_nowait()) is not None:
        queue.requeue(qp, {"NodeResourcesFit"})
    queue.add(PodInfo.of(pod("fresh")))
    assert names(queue) == ["fresh"]


def test_deleted_and_updated_pods() -> None:
    queue, clock = make()
    queue.add(PodInfo.of(pod("gone")))
    queue.delete("default/gone")
    assert queue.pop_nowait() is None
    queue.add(PodInfo.of(pod("p")))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.requeue(qp, {"NodeAffinity"})
    changed = pod("p", nodeSelector={"disk": "ssd"})
    clock.t += 5
    queue.add(PodInfo.of(changed))  # the pod itself changed: try again (after its back-off)
    assert names(queue) == ["p"]


def test_pop_waits_for_a_pod() -> None:
    async def main() -> str:
        queue, _ = make()
        waiter = asyncio.ensure_future(queue.pop())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        queue.add(PodInfo.of(pod("late")))
        return (await asyncio.wait_for(waiter, 10)).pi.key
    assert asyncio.run(main()) == "default/late"

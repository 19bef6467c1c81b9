"""The scheduler: a framework of plugins per extension point, a cache with assume-then-bind, a queue with
back-off, and the loop that binds pending pods through ``pods/binding``. See docs/scheduler.md."""

from kubelite.scheduler.scheduler import Scheduler, start_scheduler

__all__ = ["Scheduler", "start_scheduler"]

"""When a CronJob runs: the schedule grammar of the API (``kubelite.api.registry.batch.parse_cron``) turned into times.

The API server already validates schedules with the grammar of robfig/cron (the
library Kubernetes uses); this module reuses that parser and adds what the
controller needs, with robfig's semantics:

- day of month and day of week: when either field is restricted (does not start
  with ``*`` or ``?``) and the other is too, a day matches if *either* does;
  otherwise both must (``0 0 1 * MON`` runs on the 1st and on Mondays);
- ``@every <duration>`` runs at a constant interval counted from the CronJob's
  creation (kube's special case for such schedules);
- times are computed in the CronJob's ``spec.timeZone`` (an IANA name), else UTC.

:meth:`Schedule.next_after` walks month, day, hour and minute fields, skipping
whole non-matching units, so even a yearly schedule takes a few dozen steps.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from kubelite.api.registry.batch import DESCRIPTORS, CronError, parse_cron

__all__ = ["CronError", "Schedule"]

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_HORIZON_YEARS = 5  # robfig gives up after five years without a match (e.g. "0 0 30 2 *")


def parse_duration(text: str) -> float:
    """A Go duration (``1h30m``, ``90s``) in seconds."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise CronError(f"time: invalid duration {text!r}")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


class Schedule:
    def __init__(self, expression: str, time_zone: str | None = None) -> None:
        self.expression = expression.strip()
        try:
            self.tz: tzinfo = ZoneInfo(time_zone) if time_zone else UTC
        except (ValueError, KeyError, OSError) as e:  # ZoneInfoNotFoundError is a KeyError
            raise CronError(f"unknown time zone {time_zone}") from e
        fields = parse_cron(self.expression)
        self.every: float | None = None
        if fields is None:
            self.every = max(1.0, round(parse_duration(self.expression.removeprefix("@every").strip())))
            self.minutes = self.hours = self.doms = self.months = self.dows = set()
            self.dom_star = self.dow_star = True
            return
        self.minutes, self.hours, self.doms, self.months, self.dows = fields
        text = DESCRIPTORS.get(self.expression, self.expression).split()
        self.dom_star, self.dow_star = text[2][0] in "*?", text[4][0] in "*?"

    def _day_matches(self, t: datetime) -> bool:
        dom, dow = t.day in self.doms, (t.isoweekday() % 7) in self.dows
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next_after(self, after: datetime, origin: datetime | None = None) -> datetime | None:
        """The first scheduled time strictly after ``after`` (aware datetimes); None if there is none for years.

        ``origin`` anchors ``@every`` schedules (the CronJob's creation time).
        """
        if self.every is not None:
            base = origin or after
            steps = int((after - base).total_seconds() // self.every) + 1
            return base + timedelta(seconds=steps * self.every)
        t = after.astimezone(self.tz).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t.year + _HORIZON_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += timedelta(minutes=1)
                continue
            # re-normalise: arithmetic on zoneinfo datetimes keeps the old UTC offset across DST changes
            return t.astimezone(UTC).astimezone(self.tz)
        return None

    def missed(self, earliest: datetime, now: datetime, origin: datetime | None = None,
               cap: int = 100) -> tuple[datetime | None, int]:
        """The most recent scheduled time in ``(earliest, now]`` and how many there were (counting stops at
        ``cap``+1, kube's "too many missed start times")."""
        if self.every is not None:
            base = origin or earliest
            n_now = int((now - base).total_seconds() // self.every)
            n_first = int((earliest - base).total_seconds() // self.every) + 1
            if n_now < n_first:
                return None, 0
            return base + timedelta(seconds=n_now * self.every), n_now - n_first + 1
        last, count = None, 0
        t = self.next_after(earliest)
        while t is not None and t <= now:
            last, count = t, count + 1
            if count > cap:
                # jump near ``now`` rather than walk a long gap: the latest time lies in the smallest window
                # before ``now`` that holds any
                for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=366)):
                    found, u = None, self.next_after(max(t, now - window))
                    while u is not None and u <= now:
                        found, u = u, self.next_after(u)
                    if found is not None:
                        return found, count
            if count > cap * 10:
                return last, count
            t = self.next_after(t)
        return last, count

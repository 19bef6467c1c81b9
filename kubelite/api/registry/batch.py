"""batch/v1 Job and CronJob: kube-apiserver's defaulting, generated selectors and validation.

A Job's selector is generated from its uid unless ``manualSelector`` is true
(``pkg/registry/batch/job/strategy.go``'s ``generateSelector``): the template
gets ``controller-uid``/``job-name`` labels in both their legacy and
``batch.kubernetes.io/`` spellings, and the selector matches the new uid
label only, so a Job's pods can never be mistaken for another's. The Job's
own labels default to its template's (kube applies that default on every
read, after the labels were generated, so the generated ones show too).

A CronJob's schedule is checked here with the grammar of the cron library
Kubernetes uses (five fields, ranges, steps, names, ``@hourly``-style
descriptors); the controller that runs it (issue 5) reuses :func:`parse_cron`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from kubelite.api.errors import Cause, forbidden, invalid_value, not_supported, required
from kubelite.api.meta import age, human_duration, parse_time, validate_labels
from kubelite.api.registry.apps import _go_map, selector_matches
from kubelite.api.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kubelite.api.registry.podspec import default_pod_spec, validate_pod_spec

JOB_RESTART_POLICIES = ["OnFailure", "Never"]
COMPLETION_MODES = ["NonIndexed", "Indexed"]
CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"]
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"

WIDE = [Column("Containers", priority=1), Column("Images", priority=1), Column("Selector", priority=1)]


def _non_negative(spec: Obj, key: str, path: str) -> list[Cause]:
    v = spec.get(key)
    if v is None:
        return []
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        return [invalid_value(f"{path}.{key}", v, "must be greater than or equal to 0")]
    return []


def _template_cells(spec: Obj) -> list[str]:
    cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    sel = spec.get("selector") or {}
    parts = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        parts.append(f"{e.get('key')} {str(e.get('operator', '')).lower()} ({','.join(e.get('values') or [])})")
    return [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
            ",".join(parts) or "<none>"]


def default_job_spec(spec: Obj) -> None:
    """Defaults of a JobSpec's pod template (shared with a CronJob's ``jobTemplate``)."""
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        tmpl.setdefault("metadata", {})
        if isinstance(tmpl.setdefault("spec", {}), dict):
            default_pod_spec(tmpl["spec"])


def validate_job_spec(spec: object, path: str, generated: bool) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(path)]
    out: list[Cause] = []
    for key in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        out += _non_negative(spec, key, path)
    if spec.get("activeDeadlineSeconds") == 0:
        out.append(invalid_value(f"{path}.activeDeadlineSeconds", 0, "must be greater than 0"))
    mode = spec.get("completionMode")
    if mode is not None and mode not in COMPLETION_MODES:
        out.append(not_supported(f"{path}.completionMode", mode, COMPLETION_MODES))
    if mode == "Indexed" and spec.get("completions") is None:
        out.append(required(f"{path}.completions", "when completion mode is Indexed"))
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        return out + [required(f"{path}.template")]
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    out += validate_labels(labels, f"{path}.template.metadata.labels")
    if generated:
        sel = spec.get("selector")
        if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            out.append(required(f"{path}.selector"))
        elif isinstance(labels, dict) and not selector_matches(sel, labels):
            out.append(invalid_value(f"{path}.template.metadata.labels", _go_map(labels),
                                     "`selector` does not match template `labels`"))
    tspec = tmpl.get("spec")
    out += validate_pod_spec(tspec, f"{path}.template.spec")
    if isinstance(tspec, dict):
        if tspec.get("restartPolicy") in ("Always", "", None):
            out.append(required(f"{path}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
    return out


class Job(Strategy):
    group, kind, plural, singular = "batch", "Job", "jobs", "job"
    categories = ("all",)
    subresources: ClassVar[tuple[str, ...]] = ("status",)

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {}

    def default(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("manualSelector", False)
        spec.setdefault("podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
        default_job_spec(spec)
        meta = obj.setdefault("metadata", {})
        tmpl = spec.get("template")
        if not spec.get("manualSelector") and isinstance(tmpl, dict) and isinstance(tmpl.get("metadata"), dict):
            self._generate_selector(meta, spec, tmpl)
        labels = (tmpl or {}).get("metadata", {}).get("labels") if isinstance(tmpl, dict) else None
        if isinstance(labels, dict) and labels and not meta.get("labels"):
            meta["labels"] = dict(labels)

    @staticmethod
    def _generate_selector(meta: Obj, spec: Obj, tmpl: Obj) -> None:
        uid, name = str(meta.get("uid", "")), str(meta.get("name", ""))
        labels = tmpl["metadata"].get("labels")
        if not isinstance(labels, dict):
            labels = tmpl["metadata"]["labels"] = {}
        for key in (LEGACY_JOB_NAME, JOB_NAME):
            labels.setdefault(key, name)
        for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
            labels.setdefault(key, uid)
        sel = spec.get("selector")
        if not isinstance(sel, dict):
            sel = spec["selector"] = {}
        if not isinstance(sel.get("matchLabels"), dict):
            sel["matchLabels"] = {}
        sel["matchLabels"].setdefault(CONTROLLER_UID, uid)

    def validate_spec(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        out = validate_job_spec(spec, "spec", True)
        if isinstance(spec, dict) and not spec.get("manualSelector"):
            uid = obj["metadata"].get("uid", "")
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
                if isinstance(labels, dict) and labels.get(key) != uid:
                    out.append(invalid_value(f"spec.template.metadata.labels[{key}]", labels.get(key),
                                             f"must be '{uid}'"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        out = self.validate(new)
        ns, os_ = new.get("spec") or {}, old.get("spec") or {}
        for key in ("selector", "completionMode", "podFailurePolicy"):
            if ns.get(key) != os_.get(key):
                out.append(invalid_value(f"spec.{key}", str(ns.get(key)), "field is immutable"))
        if ns.get("completions") != os_.get("completions") and ns.get("completionMode") != "Indexed":
            out.append(invalid_value("spec.completions", ns.get("completions"), "field is immutable"))
        suspended = os_.get("suspend") and not (old.get("status") or {}).get("startTime")
        if ns.get("template") != os_.get("template") and not suspended:
            out.append(invalid_value("spec.template", "", "field is immutable"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Status", description="Status of the job."),
                Column("Completions", description="The completion status of the job."),
                Column("Duration", description="Time required to complete the job."), AGE_COLUMN, *WIDE]

    def cells(self, obj: Obj) -> list[Any]:
        spec, st = obj.get("spec", {}), obj.get("status", {})
        conds = {c.get("type") for c in st.get("conditions") or [] if c.get("status") == "True"}
        status = ("Complete" if "Complete" in conds else "Failed" if "Failed" in conds
                  else "Terminating" if obj["metadata"].get("deletionTimestamp")
                  else "Suspended" if "Suspended" in conds else "FailureTarget" if "FailureTarget" in conds
                  else "SuccessCriteriaMet" if "SuccessCriteriaMet" in conds else "Running")
        done = st.get("succeeded", 0)
        if spec.get("completions") is not None:
            completions = f"{done}/{spec['completions']}"
        else:
            par = spec.get("parallelism", 0)
            completions = f"{done}/1 of {par}" if par > 1 else f"{done}/1"
        start, end = parse_time(st.get("startTime", "")), parse_time(st.get("completionTime", ""))
        duration = "" if start is None else human_duration(((end or datetime.now(UTC)) - start).total_seconds())
        return [obj["metadata"]["name"], status, completions, duration, age(obj), *_template_cells(spec)]

    def field_value(self, obj: Obj, field: str) -> str | None:
        if field == "status.successful":
            return str((obj.get("status") or {}).get("succeeded", 0))
        return super().field_value(obj, field)


# -- cron schedules -----------------------------------------------------------------------------------

DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, MONTHS), (0, 6, DAYS))
EVERY = re.compile(r"@every (\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")


class CronError(ValueError):
    pass


def _cron_value(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax")
    return int(text)


def _cron_field(text: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        rng, _, step_txt = part.partition("/")
        if rng in ("*", "?"):
            start, end = lo, hi
        else:
            a, dash, b = rng.partition("-")
            start = _cron_value(a, names)
            end = _cron_value(b, names) if dash else (hi if step_txt else start)
        step = 1
        if step_txt:
            if not step_txt.isdigit() or int(step_txt) == 0:
                raise CronError(f"failed to parse int from {step_txt}: strconv.Atoi: parsing {step_txt!r}: "
                                "invalid syntax")
            step = int(step_txt)
        if start < lo:
            raise CronError(f"beginning of range ({start}) below minimum ({lo}): {part}")
        if end > hi:
            raise CronError(f"end of range ({end}) above maximum ({hi}): {part}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        out.update(range(start, end + 1, step))
    return out


def parse_cron(schedule: str) -> list[set[int]] | None:
    """The allowed minutes, hours, days of month, months and weekdays; None for ``@every``. Raises CronError."""
    s = schedule.strip()
    if s.startswith(("TZ=", "CRON_TZ=")):
        raise CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if s.startswith("@every"):
        if not EVERY.fullmatch(s):
            raise CronError(f"failed to parse duration {s}: time: invalid duration {s[7:]!r}")
        return None
    if s.startswith("@"):
        if s not in DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {s}")
        s = DESCRIPTORS[s]
    fields = s.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    out = [_cron_field(f, lo, hi, names) for f, (lo, hi, names) in zip(fields, FIELDS, strict=True)]
    if 7 in out[4]:
        out[4] = (out[4] - {7}) | {0}
    return out


class CronJob(Strategy):
    group, kind, plural, singular = "batch", "CronJob", "cronjobs", "cronjob"
    short_names = ("cj",)
    categories = ("all",)
    subresources: ClassVar[tuple[str, ...]] = ("status",)

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {}

    def default(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        jt = spec.get("jobTemplate")
        if isinstance(jt, dict):
            jt.setdefault("metadata", {})
            if isinstance(jt.get("spec"), dict):
                default_job_spec(jt["spec"])

    def validate_spec(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [required("spec")]
        out: list[Cause] = []
        sched = spec.get("schedule")
        if not sched:
            out.append(required("spec.schedule"))
        elif not isinstance(sched, str):
            out.append(invalid_value("spec.schedule", sched, "must be a string"))
        else:
            try:
                parse_cron(sched)
            except CronError as e:
                if "TZ" in str(e) and spec.get("timeZone") is None:
                    out.append(invalid_value("spec.schedule", sched, str(e)))
                elif "TZ" in str(e):
                    out.append(forbidden("spec.schedule", str(e)))
                else:
                    out.append(invalid_value("spec.schedule", sched, str(e)))
        tz = spec.get("timeZone")
        if tz is not None and not _valid_time_zone(tz):
            out.append(invalid_value("spec.timeZone", tz, "unknown time zone " + str(tz)))
        cp = spec.get("concurrencyPolicy")
        if cp not in CONCURRENCY_POLICIES:
            out.append(not_supported("spec.concurrencyPolicy", cp, CONCURRENCY_POLICIES))
        for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
            out += _non_negative(spec, key, "spec")
        jt = spec.get("jobTemplate")
        if not isinstance(jt, dict):
            return out + [required("spec.jobTemplate")]
        jspec = jt.get("spec")
        out += validate_job_spec(jspec, "spec.jobTemplate.spec", False)
        if isinstance(jspec, dict) and jspec.get("manualSelector"):
            out.append(not_supported("spec.jobTemplate.spec.manualSelector", "true", ["nil", "false"]))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Schedule", description="The schedule for running the job."),
                Column("Timezone", description="The time zone the schedule is in."),
                Column("Suspend", "boolean", description="Whether the cron job is suspended."),
                Column("Active", "integer", description="The number of active jobs."),
                Column("Last Schedule", description="When the job was last scheduled."), AGE_COLUMN,
                *WIDE]

    def cells(self, obj: Obj) -> list[Any]:
        spec, st = obj.get("spec", {}), obj.get("status", {})
        last = parse_time(st.get("lastScheduleTime", ""))
        last_txt = human_duration((datetime.now(UTC) - last).total_seconds()) if last else "<none>"
        jspec = (spec.get("jobTemplate") or {}).get("spec") or {}
        return [obj["metadata"]["name"], spec.get("schedule", ""), spec.get("timeZone") or "<none>",
                bool(spec.get("suspend")), len(st.get("active") or []), last_txt, age(obj),
                *_template_cells(jspec)]


def _valid_time_zone(tz: object) -> bool:
    if not isinstance(tz, str) or not tz or tz.startswith(("/", ".")) or ".." in tz:
        return False
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True

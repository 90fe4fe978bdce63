"""Schedules: check a cron expression and timezone, say it in words, list next runs.

The cron dialect is the one a Kubernetes CronJob (and so a NAIS Naisjob)
accepts: five fields (minute hour day-of-month month day-of-week), `*`, lists,
ranges, `/` steps, month and weekday names, and the macros below. Quartz
extras (`L`, `W`, `#`, `?`) are rejected even though cronsim knows some of
them, because the cluster would not.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELD_RE = re.compile(r"[0-9a-zA-Z*/,\-]+")  # fullmatch: "$" would let "0\n" through
_CRON_CHARS = re.compile(r"[\x20-\x7e]*")  # printable ASCII: fields are split on spaces only
_NAMES = {
    "month": {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
    "day-of-week": {"sun", "mon", "tue", "wed", "thu", "fri", "sat"},
}
_EXPECTED = "5 fields 'minute hour day-of-month month day-of-week' or one of " + ", ".join(MACROS)


def expand(cron: str) -> str:
    """The five-field form of a cron expression (macros replaced, whitespace normalised)."""
    text = " ".join(str(cron).split())
    return MACROS.get(text.lower(), text)


def cron_problem(cron: Any) -> str | None:
    """What is wrong with a cron expression, or None when it is fine."""
    if not isinstance(cron, str):
        return f"schedule is {type(cron).__name__}, expected a string: {_EXPECTED}"
    if not _CRON_CHARS.fullmatch(cron):
        bad = next(c for c in cron if not _CRON_CHARS.fullmatch(c))
        return (f"schedule {cron!r} holds {bad!r}, expected printable ASCII with spaces "
                f"between the fields: {_EXPECTED}")
    text = expand(cron)
    if text.startswith("@"):
        return f"unknown macro {text!r}, expected {_EXPECTED}"
    fields = text.split(" ")
    if len(fields) != 5 or not text:
        return f"{len(fields) if text else 0} fields in {cron!r}, expected {_EXPECTED}"
    for name, value in zip(FIELDS, fields, strict=True):
        problem = _field_problem(name, value)
        if problem:
            return problem
    return _cronsim_problem(text)


def _field_problem(name: str, value: str) -> str | None:
    names = _NAMES.get(name, set())
    words = [w.lower() for w in re.findall(r"[a-zA-Z]+", value)]
    if not _FIELD_RE.fullmatch(value) or any(w not in names for w in words):
        allowed = "numbers, '*', ',', '-' and '/'"
        if names:
            allowed += " and the names " + ", ".join(sorted(names))
        return f"{name} field {value!r} is not valid cron, expected {allowed}"
    return None


@functools.lru_cache(maxsize=256)  # a monorepo repeats a handful of schedules
def _cronsim_problem(text: str) -> str | None:
    from cronsim import CronSim, CronSimError

    try:
        CronSim(text, datetime(2000, 1, 1))
    except CronSimError as e:
        # cronsim says "Bad minute"; name the field's value too
        field = str(e).removeprefix("Bad ").strip()
        value = dict(zip(FIELDS, text.split(" "), strict=True)).get(field)
        what = f"{field} field {value!r}" if value is not None else str(e)
        return f"{what} is out of range or never matches in {text!r}, expected {_ranges()}"
    except (ValueError, IndexError, KeyError) as e:  # cronsim's own parse slips
        return f"cannot parse {text!r} ({e}), expected {_ranges()}"
    return None


def _ranges() -> str:
    return ("minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or jan-dec, "
            "day-of-week 0-7 or sun-sat, steps '*/N' or 'A-B/N'")


# Files of the zoneinfo folder that load but are not zones a CronJob should name:
# the system's own zone, the POSIX default rules, tzdata's placeholder, and the two
# alternative trees.
NOT_ZONES = frozenset({"localtime", "posixrules", "factory", "local"})
NOT_ZONE_TREES = ("posix/", "right/")
# Kubernetes' own check of CronJob `timeZone` (validateTimeZone): each part of the name
_ZONE_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")
_ZONE_EXPECTED = "expected an IANA zone name such as 'Europe/Oslo'"


def timezone_problem(tz: Any) -> str | None:
    """What is wrong with an IANA timezone name, or None: the name a Kubernetes CronJob
    (and NAIS) accepts and Python's zoneinfo loads."""
    if not isinstance(tz, str) or not tz:
        return f"timezone is {tz!r}, {_ZONE_EXPECTED}"
    return _zone_problem(tz)


@functools.lru_cache(maxsize=256)  # a monorepo repeats one or two zones
def _zone_problem(tz: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    parts = tz.split("/")
    if tz.lower() in NOT_ZONES or tz.startswith(NOT_ZONE_TREES) or any(
            p in (".", "..") or p.startswith("-") or not _ZONE_PART.fullmatch(p) for p in parts):
        return f"timezone {tz!r} is not an IANA zone name, {_ZONE_EXPECTED}"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown timezone {tz!r}, {_ZONE_EXPECTED}"
    return None


def describe(cron: str, tz: str) -> str:
    """The schedule as a sentence: 'at 06:15, Monday through Friday, Europe/Oslo'."""
    text = expand(cron)
    problem = cron_problem(cron)
    if problem:
        return f"invalid schedule {cron!r}"
    words = _words(text)
    return f"{words[:1].lower()}{words[1:]}, {tz}"


def _words(text: str) -> str:
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return str(ExpressionDescriptor(text, options).get_description())
    except Exception:  # cron-descriptor raises its own base types; fall back to the text
        return f"cron {text}"


def next_runs(cron: str, tz: str, n: int = 3, now: datetime | None = None) -> list[datetime]:
    """The next `n` run times, timezone-aware in `tz`, strictly after `now`."""
    from zoneinfo import ZoneInfo

    from cronsim import CronSim

    zone = ZoneInfo(tz)
    start = (now or datetime.now(zone)).astimezone(zone).replace(microsecond=0)
    # cronsim yields times strictly after its start only at minute resolution
    start = start.replace(second=0)
    runs: list[datetime] = []
    for when in CronSim(expand(cron), start):
        if now is not None and when <= now:
            continue
        runs.append(when)
        if len(runs) >= n:
            break
    return runs


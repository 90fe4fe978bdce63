from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dvbuild.validate.schedule import cron_problem, describe, expand, next_runs, timezone_problem

UTC = ZoneInfo("UTC")
OSLO = ZoneInfo("Europe/Oslo")


@pytest.mark.parametrize("cron", [
    "15 6 * * mon-fri", "*/15 * * * *", "0 0 1 * *", "0 6 * * 1-5", "0 0 * jan-mar *",
    "0 0 * * 7", "5,35 */2 1-15/3 * SUN", "@daily", "@HOURLY", "@weekly", "@midnight",
    "  0   6  * * *  ",
])
def test_valid_crons(cron: str) -> None:
    assert cron_problem(cron) is None


@pytest.mark.parametrize(("cron", "fragment"), [
    ("* * * *", "4 fields in '* * * *', expected 5 fields"),
    ("* * * * * *", "6 fields"),
    ("", "0 fields"),
    ("60 * * * *", "minute field '60' is out of range"),
    ("0 24 * * *", "hour field '24' is out of range"),
    ("0 0 32 * *", "day-of-month field '32'"),
    ("0 0 30 2 *", "day-of-month field '30' is out of range or never matches"),
    ("0 0 1 13 *", "month field '13'"),
    ("0 0 * * 8", "day-of-week field '8'"),
    ("*/0 * * * *", "minute field '*/0'"),
    ("0 0 L * *", "day-of-month field 'L' is not valid cron"),
    ("0 0 * * 1#2", "day-of-week field '1#2' is not valid cron"),
    ("0 0 * * funday", "day-of-week field 'funday' is not valid cron"),
    ("0 0 * mon * ", "month field 'mon' is not valid cron"),
    ("@reboot", "unknown macro '@reboot'"),
])
def test_bad_crons(cron: str, fragment: str) -> None:
    problem = cron_problem(cron)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize("cron", [
    "0\n0 * * *", "15 6 * * 1-5\n", "@daily\n", "0\t6 * * *", "0 6 * * mon\r",
    "0 6\u2003* * *", "0 6 * * \u0661", "0 6 * * *\x00",
])
def test_line_breaks_and_other_characters_are_refused(cron: str) -> None:
    problem = cron_problem(cron)  # `render` applies the same function (issue #13)
    assert problem is not None and problem.startswith(f"schedule {cron!r} holds ")


def test_non_string_cron() -> None:
    assert cron_problem(5) == (
        "schedule is int, expected a string: 5 fields 'minute hour day-of-month month "
        "day-of-week' or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
    )


def test_expand_macros() -> None:
    assert expand("@daily") == "0 0 * * *"
    assert expand(" 0  6 * * * ") == "0 6 * * *"


@pytest.mark.parametrize(("tz", "ok"), [
    ("Europe/Oslo", True), ("UTC", True), ("America/New_York", True),
    ("Mars/Olympus", False), ("../../etc/passwd", False), ("", False), (None, False), (3, False),
    # they load with zoneinfo, but are not IANA zones a CronJob takes (issue #13)
    ("posixrules", False), ("localtime", False), ("Factory", False), ("posix/Europe/Oslo", False),
    ("right/UTC", False), ("Europe/Oslo\n", False), ("Etc/GMT+5", True), ("EST5EDT", True),
    (["Europe/Oslo"], False),
])
def test_timezones(tz: object, ok: bool) -> None:
    assert (timezone_problem(tz) is None) is ok


def test_describe() -> None:
    assert describe("15 6 * * mon-fri", "Europe/Oslo") == \
        "at 06:15, Monday through Friday, Europe/Oslo"
    assert describe("@daily", "UTC") == "at 00:00, UTC"
    assert describe("*/15 * * * *", "UTC") == "every 15 minutes, UTC"


def test_next_runs_weekdays_in_zone() -> None:
    now = datetime(2026, 3, 27, 7, 0, tzinfo=UTC)  # a Friday, after 06:15 Oslo time
    runs = next_runs("15 6 * * mon-fri", "Europe/Oslo", now=now)
    assert runs == [datetime(2026, 3, d, 6, 15, tzinfo=OSLO) for d in (30, 31)] + \
        [datetime(2026, 4, 1, 6, 15, tzinfo=OSLO)]
    assert all(r.tzinfo is not None and str(r.tzinfo) == "Europe/Oslo" for r in runs)


def test_next_runs_across_dst_gap() -> None:
    # 02:30 does not exist in Oslo on 2026-03-29: cronsim runs it at 03:00
    runs = next_runs("30 2 * * *", "Europe/Oslo", n=2, now=datetime(2026, 3, 28, 7, tzinfo=UTC))
    assert [r.isoformat() for r in runs] == ["2026-03-29T03:00:00+02:00",
                                              "2026-03-30T02:30:00+02:00"]


def test_next_runs_strictly_after_now() -> None:
    now = datetime(2026, 1, 1, 6, 15, 30, tzinfo=OSLO)
    assert next_runs("15 6 * * *", "Europe/Oslo", n=1, now=now)[0].day == 2


def test_next_runs_leap_day_and_default_now() -> None:
    runs = next_runs("0 0 29 2 *", "UTC", n=2, now=datetime(2026, 3, 1, tzinfo=UTC))
    assert [r.year for r in runs] == [2028, 2032]
    assert len(next_runs("@hourly", "UTC")) == 3

"""Statistics days are calendar days in the project's time zone (settings.TIME_ZONE).

The database stores UTC instants; a local day becomes the half-open UTC range between two local
midnights, computed here in Python. Grouping by such ranges needs no time-zone support in the
database (MySQL's CONVERT_TZ needs its zone tables loaded; SQLite has none), and it is exact on
days when a zone changes its offset (a 23- or 25-hour day).
"""
import re
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
FIRST_DAY, LAST_DAY = date(1970, 1, 2), date(9998, 12, 30)


def day_bounds(day: date, zone: str | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a local day, as UTC datetimes."""
    tz = ZoneInfo(zone or settings.TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(dt_timezone.utc), end.astimezone(dt_timezone.utc)


def days_between(first: date, last: date) -> list[date]:
    """Every day from first to last, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def today() -> date:
    return timezone.localdate()


def yesterday() -> date:
    return today() - timedelta(days=1)


def parse_day(text: str) -> date:
    """'YYYY-MM-DD' → date; ValueError saying what is wrong otherwise."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2025-01-15")
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:  # right shape, impossible day (2025-02-30)
        raise ValueError(f"{text!r} is not a date: {exc}") from None
    if not FIRST_DAY <= day <= LAST_DAY:  # a day's bounds in any zone stay representable
        raise ValueError(f"{text!r} is outside the days counted: {FIRST_DAY} to {LAST_DAY}")
    return day

"""When cron starts the daily batch.

cron reads a crontab's times on the host clock. Debian's cron (3.0pl1) has no CRON_TZ, and a
`TZ=...` prefix on the command only changes the job's environment, not when it fires. So "02:00
in TIME_ZONE" is converted here to the host clock's time when the crontab is generated. Asia/Seoul
has no daylight saving time, so on a UTC host the line is a fixed `0 17 * * *`; on a host whose
zone observes DST, run `manage.py crontab add` again after each change (or keep servers on UTC).

Pure functions of their arguments: settings import this module.
"""
import os
import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
LOCALTIME = "/etc/localtime"


def host_time_zone(override: str | None = None, localtime_path: str = LOCALTIME):
    """The zone the cron daemon reads its schedule in: `override`, else the host's
    /etc/localtime (not $TZ, which Django sets to TIME_ZONE in its own process), else UTC."""
    if override:
        return ZoneInfo(override)
    try:
        with open(localtime_path, "rb") as zone_file:
            return ZoneInfo.from_file(zone_file, key=os.path.realpath(localtime_path))
    except (OSError, ValueError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


def daily_schedule(at: str, zone: str, host_zone, on: date | None = None) -> str:
    """'HH:MM' in `zone` → the crontab time fields ('M H * * *') for a cron on `host_zone`."""
    match = _HH_MM.fullmatch(at)
    if not match:
        raise ValueError(f"daily time {at!r} is not HH:MM (00:00-23:59)")
    local = datetime.combine(on or date.today(), time(int(match[1]), int(match[2])), tzinfo=ZoneInfo(zone))
    host = local.astimezone(host_zone)
    return f"{host.minute} {host.hour} * * *"

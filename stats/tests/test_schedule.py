"""The daily schedule: 02:00 in TIME_ZONE on the host's cron, installed by django-crontab."""
import re
import subprocess
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command

from campaign_site.schedule import daily_schedule, host_time_zone
from stats.models import BatchRun

UTC = ZoneInfo("UTC")


@pytest.mark.parametrize("host, on, expected", [
    ("UTC", date(2025, 1, 15), "0 17 * * *"),  # 02:00 KST is 17:00 UTC the day before
    ("Asia/Seoul", date(2025, 1, 15), "0 2 * * *"),
    ("America/New_York", date(2025, 1, 15), "0 12 * * *"),
    ("America/New_York", date(2025, 7, 15), "0 13 * * *"),  # the host's DST moves the line
    ("Asia/Kolkata", date(2025, 1, 15), "30 22 * * *"),
])
def test_02_00_in_seoul_on_the_host_clock(host, on, expected):
    assert daily_schedule("02:00", "Asia/Seoul", ZoneInfo(host), on=on) == expected


@pytest.mark.parametrize("at", ["2:00", "24:00", "02:60", "0200", ""])
def test_a_bad_time_of_day_is_refused(at):
    with pytest.raises(ValueError, match="is not HH:MM"):
        daily_schedule(at, "Asia/Seoul", UTC)


def test_the_host_zone_is_read_from_the_host_not_from_the_process(tmp_path):
    assert host_time_zone("Europe/Paris") == ZoneInfo("Europe/Paris")
    assert host_time_zone(localtime_path=str(tmp_path / "missing")) == UTC
    seoul_file = tmp_path / "localtime"
    seoul_file.write_bytes(open("/usr/share/zoneinfo/Asia/Seoul", "rb").read())
    assert daily_schedule("02:00", "Asia/Seoul", host_time_zone(localtime_path=str(seoul_file))) == "0 2 * * *"


def test_the_cron_job_is_the_stats_batch_at_02_00_in_the_project_time_zone():
    (schedule, function, args), = settings.CRONJOBS
    assert (function, args) == ("django.core.management.call_command", ["run_stats_batch"])
    assert schedule == daily_schedule("02:00", settings.TIME_ZONE, host_time_zone())
    assert settings.TIME_ZONE == "Asia/Seoul" and settings.USE_TZ


@pytest.fixture
def crontab_file(tmp_path, settings):
    """django-crontab against a stand-in for crontab(1) that keeps the table in a file, so the
    test never touches the real crontab of whoever runs it."""
    table = tmp_path / "crontab"
    executable = tmp_path / "crontab.sh"
    executable.write_text(f'#!/bin/sh\nif [ "$1" = -l ]; then cat "{table}" 2>/dev/null; else cp "$1" "{table}"; fi\n')
    executable.chmod(0o755)
    settings.CRONTAB_EXECUTABLE = str(executable)
    settings.CRONTAB_COMMAND_SUFFIX = f">> {tmp_path / 'stats_batch.log'} 2>&1"
    return table


@pytest.mark.django_db(transaction=True)
def test_crontab_add_installs_a_line_that_runs_the_batch(crontab_file, child_env, capsys, tmp_path):
    crontab_file.write_text("# someone else's line stays\n5 * * * * true\n")

    call_command("crontab", "add")
    call_command("crontab", "show")

    lines = crontab_file.read_text().splitlines()
    assert lines[:2] == ["# someone else's line stays", "5 * * * * true"]
    job = re.fullmatch(r"(\S+ \S+ \S+ \S+ \S+) (.*) # django-cronjobs for campaign_site", lines[2])
    assert job and job[1] == settings.CRONJOBS[0][0]
    command = job[2]
    assert f"{settings.BASE_DIR / 'manage.py'} crontab run " in command
    assert "--settings=campaign_site.settings.test" in command
    job_hash = command.split("crontab run ")[1].split()[0]
    assert f"{job_hash} -> {settings.CRONJOBS[0]!r}" in capsys.readouterr().out

    # What cron would run at 02:00: the batch for yesterday, recorded, its output in the log.
    subprocess.run(["sh", "-c", command], env=child_env(), check=True, timeout=60, cwd=tmp_path)
    run = BatchRun.objects.get()
    assert (run.job_name, run.status) == ("run_stats_batch", "COMPLETED")
    assert f"run #{run.pk} COMPLETED" in (tmp_path / "stats_batch.log").read_text()

    call_command("crontab", "remove")
    assert crontab_file.read_text().splitlines() == lines[:2]

"""manage.py run_stats_batch: which days, what it says, and its exit code."""
import subprocess
import sys
from datetime import date, datetime, timedelta
from io import StringIO
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from stats import services
from stats.days import today, yesterday
from stats.models import BatchRun, CampaignStats
from testsupport.factories import CampaignFactory, decision_events

pytestmark = pytest.mark.django_db

NOON = datetime(2025, 1, 15, 12, tzinfo=ZoneInfo("Asia/Seoul"))


def run_batch(*args):
    out = StringIO()
    call_command("run_stats_batch", *args, stdout=out)
    return out.getvalue()


def test_default_is_yesterday_in_the_project_time_zone():
    output = run_batch()
    run = BatchRun.objects.get()
    assert run.date_from == run.date_to == yesterday()
    assert output.splitlines()[0] == f"run #{run.pk}: run_stats_batch --from {yesterday()} --to {yesterday()} (Asia/Seoul)"
    assert "no decision events on these days (is consume_stats running?)" in output


def test_one_day_prints_each_campaign_and_a_summary_and_a_rerun_says_so():
    campaign = CampaignFactory()
    services.decision_events_store(decision_events(campaign, {"SUCCESS": 2, "SOLD_OUT": 1}, received_at=NOON))

    first = run_batch("--date", "2025-01-15")
    again = run_batch("--date", "2025-01-15")

    runs = list(BatchRun.objects.order_by("id"))
    assert f"2025-01-15 campaign {campaign.pk}: 2 SUCCESS, 1 SOLD_OUT, 0 DUPLICATE" in first
    assert f"run #{runs[0].pk} COMPLETED in " in first
    assert first.rstrip().endswith("3 events read, 1 campaign_stats rows written, 0 failed")
    assert "re-aggregation" not in first
    assert (f"re-aggregation: 2025-01-15 already aggregated by run #{runs[0].pk} (COMPLETED); "
            f"its rows are replaced, not added to") in again
    assert CampaignStats.objects.get().success_count == 2


def test_a_range_covers_every_day_in_it():
    campaign = CampaignFactory()
    seoul = ZoneInfo("Asia/Seoul")
    for day, n in ((30, 1), (31, 2), (1, 3), (2, 4)):  # its ends and the days between
        noon = datetime(2025, 1 if day > 2 else 2, day, 12, tzinfo=seoul)
        services.decision_events_store(decision_events(campaign, {"SUCCESS": n}, received_at=noon))
    run_batch("--from", "2025-01-30", "--to", "2025-02-02")
    run = BatchRun.objects.get()
    assert (run.date_from, run.date_to, run.status) == (date(2025, 1, 30), date(2025, 2, 2), "COMPLETED")
    assert dict(CampaignStats.objects.values_list("stats_date", "success_count")) == {
        date(2025, 1, 30): 1, date(2025, 1, 31): 2, date(2025, 2, 1): 3, date(2025, 2, 2): 4}


def test_today_may_be_aggregated_and_is_said_to_be_unfinished():
    assert f"note: {today()} is not over in Asia/Seoul; its counts will still grow" in run_batch("--date", str(today()))


def test_a_failed_campaign_makes_the_command_fail_naming_it():
    good, bad = CampaignFactory(), 999_999  # events of a campaign that does not exist: the write fails
    for campaign in (good, bad):
        services.decision_events_store(decision_events(campaign, {"SUCCESS": 1}, received_at=NOON))
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("run_stats_batch", "--date", "2025-01-15", stdout=out)

    run = BatchRun.objects.get()
    assert caught.value.returncode == 1
    assert str(caught.value) == f"run #{run.pk} PARTIAL, failed: campaign {bad} on 2025-01-15"
    assert f"2025-01-15 campaign {bad}: FAILED IntegrityError: " in out.getvalue()
    assert list(CampaignStats.objects.values_list("campaign_id", flat=True)) == [good.pk]


@pytest.mark.parametrize("args, message", [
    (["--date", "2025-13-01"], "argument --date: '2025-13-01' is not a date: month must be in 1..12"),
    (["--from", "15/01/2025", "--to", "2025-01-16"], "argument --from: '15/01/2025' is not a date: use YYYY-MM-DD"),
    (["--from", "2025-01-16", "--to", "2025-01-15"], "--from 2025-01-16 is after --to 2025-01-15"),
    (["--from", "2025-01-15"], "--from and --to go together (for one day use --date)"),
    (["--date", "2025-01-15", "--to", "2025-01-16"], "--date cannot be combined with --from/--to"),
    (["--date", "2999-01-01"], "2999-01-01 is in the future (today is"),
])
def test_bad_days_are_refused_with_a_reason_and_record_nothing(args, message):
    with pytest.raises(CommandError) as caught:
        run_batch(*args)
    assert message in str(caught.value)
    assert not BatchRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_exit_codes_and_output_of_the_real_command(child_env):
    campaign = CampaignFactory()
    services.decision_events_store(decision_events(campaign, {"SUCCESS": 1}, received_at=NOON)
                                   + decision_events(424242, {"SOLD_OUT": 1}, received_at=NOON))
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py"), "run_stats_batch"]

    def run(*args):
        return subprocess.run([*manage, *args], env=child_env(), capture_output=True, text=True, timeout=60)

    partial = run("--date", "2025-01-15")
    assert partial.returncode == 1, partial.stdout + partial.stderr
    assert "2025-01-15 campaign 424242: FAILED IntegrityError" in partial.stdout
    assert "PARTIAL, failed: campaign 424242 on 2025-01-15" in partial.stderr
    assert CampaignStats.objects.get().campaign_id == campaign.pk

    bad_date = run("--date", "2025-02-30")
    assert bad_date.returncode == 2
    assert "argument --date: '2025-02-30' is not a date: day is out of range for month" in bad_date.stderr
    reversed_range = run("--from", "2025-01-16", "--to", "2025-01-15")
    assert reversed_range.returncode == 2
    assert "--from 2025-01-16 is after --to 2025-01-15" in reversed_range.stderr

    complete = run("--date", "2025-01-14")
    assert complete.returncode == 0 and " COMPLETED in " in complete.stdout
    assert BatchRun.objects.count() == 2


def test_yesterday_is_the_day_before_the_local_date(settings):
    # 00:30 on the 16th in Seoul is still the 15th in UTC: "yesterday" follows TIME_ZONE.
    with mock.patch("django.utils.timezone.now", return_value=datetime(2025, 1, 15, 15, 30, tzinfo=ZoneInfo("UTC"))):
        assert yesterday() == date(2025, 1, 15)
        settings.TIME_ZONE = "UTC"
        assert yesterday() == date(2025, 1, 14)
    assert yesterday() == today() - timedelta(days=1)

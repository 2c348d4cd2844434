"""The raw store and the daily batch on MariaDB: counts, idempotency, partial failure, days."""
from datetime import date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from stats import selectors, services
from stats.models import BatchRun, CampaignStats, DecisionEvent
from testsupport.factories import CampaignFactory, decision_event, decision_events

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
DAY = date(2025, 1, 15)
NOON = datetime(2025, 1, 15, 12, tzinfo=SEOUL)


def counts_of(campaign, day=DAY):
    row = CampaignStats.objects.get(campaign=campaign, stats_date=day)
    return {"SUCCESS": row.success_count, "SOLD_OUT": row.sold_out_count, "DUPLICATE": row.duplicate_count}


def table():
    return sorted(CampaignStats.objects.values_list(
        "id", "campaign_id", "stats_date", "success_count", "sold_out_count", "duplicate_count",
        "first_received_at", "last_received_at"))


def test_the_raw_store_writes_every_column_of_decision_event_in_its_order():
    """Its columns come from the participation row (campaigns.rows): a column added to either
    model without the other fails here."""
    assert services._EVENT_COLUMNS == tuple(f.column for f in DecisionEvent._meta.concrete_fields
                                            if not f.primary_key)


def test_storing_events_skips_request_ids_already_stored():
    campaign = CampaignFactory()
    events = decision_events(campaign, {"SUCCESS": 3, "SOLD_OUT": 2})

    assert services.decision_events_store(events) == 5
    assert services.decision_events_store(events[:2] + [decision_event(campaign, "DUPLICATE")]) == 1

    assert DecisionEvent.objects.count() == 6
    stored = DecisionEvent.objects.get(request_id=events[0]["request_id"])
    assert (stored.campaign_id, stored.status, stored.received_at_us) == (
        campaign.pk, "SUCCESS", events[0]["received_at_us"])


def test_batch_counts_each_campaign_and_day_from_the_raw_events():
    first, second = CampaignFactory(total_stock=3), CampaignFactory()
    services.decision_events_store(
        decision_events(first, {"SUCCESS": 3, "SOLD_OUT": 5, "DUPLICATE": 2}, received_at=NOON)
        + decision_events(second, {"SUCCESS": 4}, received_at=NOON)
        + decision_events(first, {"SOLD_OUT": 7}, received_at=NOON + timedelta(days=1)))

    run = services.stats_batch_run(date_from=DAY, date_to=DAY + timedelta(days=1))

    assert (run.status, run.rows_read, run.rows_written) == ("COMPLETED", 21, 3)
    assert counts_of(first) == {"SUCCESS": 3, "SOLD_OUT": 5, "DUPLICATE": 2}
    assert counts_of(second) == {"SUCCESS": 4, "SOLD_OUT": 0, "DUPLICATE": 0}
    assert counts_of(first, DAY + timedelta(days=1)) == {"SUCCESS": 0, "SOLD_OUT": 7, "DUPLICATE": 0}
    row = CampaignStats.objects.get(campaign=first, stats_date=DAY)
    assert row.first_received_at == row.last_received_at == NOON
    assert row.batch_run == run and run.finished_at >= run.started_at


def test_running_a_day_twice_gives_the_same_table_and_says_it_is_a_reaggregation():
    campaign = CampaignFactory()
    services.decision_events_store(decision_events(campaign, {"SUCCESS": 2, "SOLD_OUT": 1}, received_at=NOON))
    first = services.stats_batch_run(date_from=DAY, date_to=DAY)
    before = table()

    second = services.stats_batch_run(date_from=DAY, date_to=DAY)

    assert table() == before  # same rows, same ids: updated in place, not added to
    assert CampaignStats.objects.count() == 1
    assert second.status == "COMPLETED" and second.rows_written == 1
    assert second.message == (f"re-aggregation: {DAY} already aggregated by run #{first.pk} (COMPLETED); "
                              f"its rows are replaced, not added to")
    assert first.message == ""


def test_a_rerun_picks_up_late_events_and_rewrites_rows_whose_events_are_gone():
    kept, emptied = CampaignFactory(), CampaignFactory()
    services.decision_events_store(decision_events(kept, {"SUCCESS": 1}, received_at=NOON)
                                   + decision_events(emptied, {"SOLD_OUT": 2}, received_at=NOON))
    services.stats_batch_run(date_from=DAY, date_to=DAY)
    services.decision_events_store([decision_event(kept, "SOLD_OUT", received_at=NOON)])  # arrived late
    DecisionEvent.objects.filter(campaign_id=emptied.pk).delete()

    services.stats_batch_run(date_from=DAY, date_to=DAY)

    assert counts_of(kept) == {"SUCCESS": 1, "SOLD_OUT": 1, "DUPLICATE": 0}
    assert counts_of(emptied) == {"SUCCESS": 0, "SOLD_OUT": 0, "DUPLICATE": 0}


def test_one_failing_campaign_is_recorded_and_rolled_back_and_the_others_are_written():
    good, also_good = CampaignFactory(), CampaignFactory()
    bad = 999_999  # events of a campaign with no row: its stats row violates the foreign key
    for campaign in (good, bad, also_good):
        services.decision_events_store(decision_events(campaign, {"SUCCESS": 2}, received_at=NOON))

    run = services.stats_batch_run(date_from=DAY, date_to=DAY)

    assert run.status == "PARTIAL"
    assert (run.rows_read, run.rows_written) == (6, 2)  # read all three, wrote two
    assert set(CampaignStats.objects.values_list("campaign_id", flat=True)) == {good.pk, also_good.pk}
    assert counts_of(good)["SUCCESS"] == counts_of(also_good)["SUCCESS"] == 2
    failure = run.failures.get()
    assert (failure.campaign_id, failure.stats_date) == (bad, DAY)
    assert failure.error.startswith("IntegrityError: ")
    assert "campaign_stats_upsert" in failure.traceback


def test_run_is_failed_when_every_campaign_fails_or_the_run_itself_breaks():
    services.decision_events_store(decision_events(999_999, {"SUCCESS": 1}, received_at=NOON))
    assert services.stats_batch_run(date_from=DAY, date_to=DAY).status == "FAILED"

    with mock.patch.object(selectors, "day_counts_by_campaign", side_effect=RuntimeError("gone")):
        with pytest.raises(RuntimeError):
            services.stats_batch_run(date_from=DAY, date_to=DAY)
    broken = BatchRun.objects.first()
    assert broken.status == "FAILED" and broken.message.endswith("stopped: RuntimeError: gone")


def test_a_day_without_events_completes_with_nothing_written():
    run = services.stats_batch_run(date_from=DAY, date_to=DAY)
    assert (run.status, run.rows_read, run.rows_written) == ("COMPLETED", 0, 0)


def test_events_around_midnight_in_seoul_land_on_their_local_day():
    campaign = CampaignFactory()
    midnight = datetime(2025, 1, 16, tzinfo=SEOUL)  # 2025-01-15 15:00 UTC
    services.decision_events_store([
        decision_event(campaign, "SUCCESS", received_at=midnight - timedelta(microseconds=1)),
        decision_event(campaign, "SOLD_OUT", received_at=midnight),
        decision_event(campaign, "DUPLICATE", received_at=datetime(2025, 1, 16, 23, 59, 59, tzinfo=ZoneInfo("UTC"))),
    ])

    services.stats_batch_run(date_from=DAY, date_to=DAY + timedelta(days=2))

    assert counts_of(campaign, DAY) == {"SUCCESS": 1, "SOLD_OUT": 0, "DUPLICATE": 0}
    assert counts_of(campaign, DAY + timedelta(days=1)) == {"SUCCESS": 0, "SOLD_OUT": 1, "DUPLICATE": 0}
    # 23:59:59 UTC on the 16th is 08:59:59 on the 17th in Seoul.
    assert counts_of(campaign, DAY + timedelta(days=2)) == {"SUCCESS": 0, "SOLD_OUT": 0, "DUPLICATE": 1}


def test_days_follow_the_configured_time_zone(settings):
    settings.TIME_ZONE = "UTC"
    campaign = CampaignFactory()
    services.decision_events_store([decision_event(campaign, received_at=datetime(2025, 1, 16, 8, tzinfo=SEOUL))])

    run = services.stats_batch_run(date_from=DAY, date_to=DAY)

    assert run.time_zone == "UTC"
    assert counts_of(campaign, DAY)["SUCCESS"] == 1  # 08:00 in Seoul is still the 15th in UTC


def test_the_run_history_says_which_run_last_covered_each_day():
    first = services.stats_batch_run(date_from=DAY, date_to=DAY + timedelta(days=2))
    second = services.stats_batch_run(date_from=DAY + timedelta(days=1), date_to=DAY + timedelta(days=1))

    third = services.stats_batch_run(date_from=DAY, date_to=DAY + timedelta(days=3))

    assert third.message.splitlines() == [
        f"re-aggregation: {DAY} already aggregated by run #{first.pk} (COMPLETED); its rows are replaced, not added to",
        f"re-aggregation: {DAY + timedelta(days=1)} already aggregated by run #{second.pk} (COMPLETED); "
        f"its rows are replaced, not added to",
        f"re-aggregation: {DAY + timedelta(days=2)} already aggregated by run #{first.pk} (COMPLETED); "
        f"its rows are replaced, not added to",
    ]

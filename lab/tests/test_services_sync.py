"""The synchronous baselines under real concurrency on MariaDB. The naive strategy must really
oversell (the experiment is only honest if the bug it shows exists); the other two never do."""
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import selectors
from campaigns.errors import CampaignNotFound, CampaignNotOpen, UnknownStrategy
from campaigns.models import Participation
from lab import services
from testsupport.concurrency import race
from testsupport.factories import CampaignFactory

pytestmark = pytest.mark.django_db(transaction=True)


def hammer(campaign, strategy, users, threads=20):
    return [d.status for d in race(
        lambda user: services.participation_decide_sync(campaign_id=campaign.pk, user_id=user,
                                                        strategy=strategy),
        users, threads=threads)]


def issued_and_decrement(campaign):
    campaign.refresh_from_db()
    issued = Participation.objects.filter(campaign=campaign, status="SUCCESS").count()
    return issued, campaign.total_stock - campaign.remaining_stock


def test_naive_strategy_oversells_under_twenty_threads(settings):
    settings.FIRSTCOME_SYNC_RACE_WINDOW_S = 0.005  # the read → write gap every request races in
    campaign = CampaignFactory(total_stock=50)

    outcomes = hammer(campaign, "naive", [f"user-{i}" for i in range(300)])

    issued, decrement = issued_and_decrement(campaign)
    assert outcomes.count("SUCCESS") == issued
    assert issued > campaign.total_stock  # oversold
    assert issued > decrement  # lost updates: coupons whose stock decrement was overwritten
    assert selectors.users_with_several_coupons(campaign.pk) == 0  # the unique key still holds
    assert Participation.objects.filter(campaign=campaign).count() == 300  # no request lost


@pytest.mark.parametrize("strategy", ["atomic", "locked"])
def test_atomic_and_locked_never_oversell_under_the_same_hammering(settings, strategy):
    settings.FIRSTCOME_SYNC_RACE_WINDOW_S = 0.005
    campaign = CampaignFactory(total_stock=50)

    outcomes = hammer(campaign, strategy, [f"user-{i}" for i in range(300)])

    assert issued_and_decrement(campaign) == (50, 50)
    assert (outcomes.count("SUCCESS"), outcomes.count("SOLD_OUT")) == (50, 250)
    assert Participation.objects.filter(campaign=campaign).count() == 300


@pytest.mark.parametrize("strategy", services.SYNC_STRATEGIES)
def test_one_user_racing_gets_one_decision_with_every_strategy(settings, strategy):
    settings.FIRSTCOME_SYNC_RACE_WINDOW_S = 0.002
    campaign = CampaignFactory(total_stock=5)

    outcomes = hammer(campaign, strategy, ["same-user"] * 30, threads=10)

    assert sorted(set(outcomes)) == ["DUPLICATE", "SUCCESS"]
    assert outcomes.count("SUCCESS") == 1
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 1, "SOLD_OUT": 0, "DUPLICATE": 29}
    assert issued_and_decrement(campaign) == (1, 1)  # the loser's stock write was rolled back


def test_sync_row_records_that_it_bypassed_kafka():
    campaign = CampaignFactory(total_stock=1)

    decision = services.participation_decide_sync(campaign_id=campaign.pk, user_id="alice", strategy="naive")

    row = Participation.objects.get()
    assert (row.request_id, row.status, row.is_decision) == (decision.request.request_id, "SUCCESS", True)
    assert (row.topic, row.partition, row.offset) == ("", -1, -1)
    assert row.broker_timestamp == row.received_at <= row.decided_at
    assert services.participation_decide_sync(
        campaign_id=campaign.pk, user_id="bob", strategy="locked").status == "SOLD_OUT"


def test_unknown_or_missing_strategy_and_closed_campaign_are_refused():
    campaign = CampaignFactory(ends_at=timezone.now() - timedelta(minutes=1),
                               starts_at=timezone.now() - timedelta(hours=1))
    with pytest.raises(UnknownStrategy, match="'optimistic'"):
        services.participation_decide_sync(campaign_id=campaign.pk, user_id="a", strategy="optimistic")
    with pytest.raises(UnknownStrategy, match="required"):
        services.participation_decide_sync(campaign_id=campaign.pk, user_id="a", strategy="")
    with pytest.raises(CampaignNotOpen):
        services.participation_decide_sync(campaign_id=campaign.pk, user_id="a", strategy="naive")
    with pytest.raises(CampaignNotFound):
        services.participation_decide_sync(campaign_id=campaign.pk + 1, user_id="a", strategy="atomic")
    assert Participation.objects.count() == 0

"""The decision under real concurrency on MariaDB: many threads, one hot campaign row."""

import pytest

from campaigns import selectors, services
from campaigns.models import Campaign, Participation
from testsupport.concurrency import race
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_threads_never_oversell_a_hot_campaign():
    campaign = CampaignFactory(total_stock=50)
    requests = [participation_request(campaign, f"user-{i}", offset=i) for i in range(500)]

    outcomes = [d.status for d in race(services.participation_decide, requests)]

    assert outcomes.count("SUCCESS") == 50
    assert outcomes.count("SOLD_OUT") == 450
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 0
    assert Participation.objects.filter(campaign=campaign, status="SUCCESS").count() == 50
    assert Participation.objects.filter(campaign=campaign).count() == 500


def test_one_user_racing_from_many_threads_gets_one_decision():
    campaign = CampaignFactory(total_stock=5)
    requests = [participation_request(campaign, "same-user", offset=i) for i in range(40)]

    outcomes = [d.status for d in race(services.participation_decide, requests)]

    assert outcomes.count("SUCCESS") == 1
    assert outcomes.count("DUPLICATE") == 39
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 4
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 1, "SOLD_OUT": 0, "DUPLICATE": 39}


def test_redelivered_request_returns_its_outcome_and_changes_nothing():
    campaign = CampaignFactory(total_stock=1)
    first = participation_request(campaign, "alice")
    assert services.participation_decide(first).status == "SUCCESS"

    assert services.participation_decide(first).status == "SUCCESS"  # not a DUPLICATE of itself
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 0
    assert Participation.objects.count() == 1


def test_later_requests_after_sell_out_are_sold_out_and_repeats_are_duplicates():
    campaign = CampaignFactory(total_stock=1)
    assert services.participation_decide(participation_request(campaign, "a")).status == "SUCCESS"
    assert services.participation_decide(participation_request(campaign, "b")).status == "SOLD_OUT"
    assert services.participation_decide(participation_request(campaign, "b")).status == "DUPLICATE"
    assert services.participation_decide(participation_request(campaign, "a")).status == "DUPLICATE"
    assert selectors.user_decision_get(campaign.pk, "b")["status"] == "SOLD_OUT"


def test_user_ids_are_case_sensitive():
    campaign = CampaignFactory(total_stock=2)
    assert services.participation_decide(participation_request(campaign, "Bob")).status == "SUCCESS"
    assert services.participation_decide(participation_request(campaign, "bob")).status == "SUCCESS"


def test_the_database_refuses_a_second_decision_for_a_user():
    from django.db import IntegrityError
    from django.utils import timezone

    campaign = CampaignFactory(total_stock=5)
    services.participation_decide(participation_request(campaign, "carol"))
    with pytest.raises(IntegrityError):
        Participation.objects.create(
            request_id=participation_request(campaign, "x").request_id, campaign=campaign,
            user_id="carol", status="SUCCESS", is_decision=True, topic="t", partition=0, offset=9,
            broker_timestamp=timezone.now(), received_at=timezone.now(), decided_at=timezone.now())


def test_campaign_create_starts_with_full_stock():
    campaign = services.campaign_create(name="launch", total_stock=7)
    assert Campaign.objects.get(pk=campaign.pk).remaining_stock == 7


def test_outcome_counters_on_the_campaign_row_match_the_rows_in_both_decision_paths():
    from django.db import transaction

    campaign = CampaignFactory(total_stock=30)
    # 20 threads deciding one at a time: sellout, SOLD_OUT and DUPLICATE, with a redelivery.
    per_event = [participation_request(campaign, f"user-{i % 40}", offset=i) for i in range(60)]
    race(services.participation_decide, per_event + per_event[:5])
    # Then whole batches, one of them a redelivery of decided requests.
    batch = [participation_request(campaign, f"user-{i % 70}", offset=100 + i) for i in range(90)]
    for chunk in (batch[:45], batch[45:], per_event[:10] + batch[:10]):
        with transaction.atomic():
            services.participations_decide_batch(chunk)

    campaign.refresh_from_db()
    assert selectors.outcome_counters(campaign) == selectors.outcome_counts(campaign.pk)
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 30, "SOLD_OUT": 40, "DUPLICATE": 80}

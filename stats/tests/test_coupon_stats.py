"""Coupon codes in the decision events and the statistics: the events carry a winner's code (for
the raw store and the result caches fed by them), and the daily batch counts redemptions."""
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.db import transaction

from campaigns import services
from campaigns.messages import (DECISION_EVENT_FIELDS, decision_event_row, decode_decision_events,
                                encode_decision_events)
from campaigns.models import Participation
from stats import selectors as stats_selectors
from stats import services as stats_services
from stats.consumers import stored_event
from stats.models import CampaignStats, DecisionEvent
from streaming.errors import PoisonMessage
from testsupport.database import entries_read
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
DAY = date(2025, 1, 15)


def decided(campaign, users):
    with transaction.atomic():
        return services.participations_decide_batch(
            [participation_request(campaign, user, offset=i) for i, user in enumerate(users)])


def test_decision_events_carry_the_winners_code_and_the_raw_store_keeps_it():
    campaign = CampaignFactory(total_stock=2)
    decisions = decided(campaign, ["a", "b", "c"])
    [message] = encode_decision_events(decisions)
    events = decode_decision_events(SimpleNamespace(value=message))

    assert [e["coupon_code"] for e in events] == [d.coupon_code for d in decisions]
    assert [e["coupon_code"] is None for e in events] == [False, False, True]
    stats_services.decision_events_store([stored_event(e) for e in events])
    assert dict(DecisionEvent.objects.values_list("user_id", "coupon_code")) == {
        d.request.user_id: d.coupon_code for d in decisions}


def wire_event(**changes):
    """A winner's decision event as the decider publishes it."""
    [won] = decided(CampaignFactory(), ["winner"])
    return {**dict(zip(DECISION_EVENT_FIELDS, decision_event_row(won))), **changes}


def test_events_published_before_coupon_codes_read_as_without_one():
    fields = [f for f in DECISION_EVENT_FIELDS if f != "coupon_code"]
    event = wire_event()
    message = orjson.dumps({"fields": fields, "rows": [[event[f] for f in fields]]})
    [read] = decode_decision_events(SimpleNamespace(value=message))
    assert read["coupon_code"] is None
    assert stored_event(read)["coupon_code"] is None


@pytest.mark.parametrize("code", ["", "not a code", "0" * 15 + "1", "0000-0000-0000-0000", 12345, ["X"]])
def test_an_event_whose_code_is_not_a_code_is_poison(code):
    event = wire_event(coupon_code=code)
    with pytest.raises(PoisonMessage, match="coupon_code is not a coupon code"):
        stored_event(event)


def test_the_daily_batch_counts_each_campaigns_redemptions_of_the_day():
    sold, other, quiet = (CampaignFactory(total_stock=5) for _ in range(3))
    noon = datetime(2025, 1, 15, 12, tzinfo=SEOUL)
    for campaign, redeemed_at in [(sold, noon), (sold, noon + timedelta(hours=11, minutes=59)), (other, noon),
                                  (sold, noon + timedelta(hours=12)),  # the next day in Seoul
                                  (quiet, noon - timedelta(days=1))]:
        [won] = decided(campaign, [f"user-{Participation.objects.count()}"])
        Participation.objects.filter(coupon_code=won.coupon_code).update(redeemed_at=redeemed_at)

    stats_services.stats_batch_run(date_from=DAY, date_to=DAY)

    # No decision event was stored: the redemptions alone give the campaigns their row.
    assert dict(CampaignStats.objects.filter(stats_date=DAY).values_list("campaign_id", "redeemed_count")) == {
        sold.pk: 2, other.pk: 1}


def test_a_days_redemptions_are_read_from_that_days_range_of_each_campaign():
    """Other days' redemptions are not read: the (campaign, redeemed_at) index gives each
    campaign's day as one range."""
    busy = CampaignFactory(total_stock=40)
    CampaignFactory(total_stock=5)  # a campaign with nothing redeemed: one probe, nothing read
    noon = datetime(2025, 1, 15, 12, tzinfo=SEOUL)
    for i, redeemed_at in enumerate([noon] * 3 + [noon - timedelta(days=d % 7 + 1) for d in range(35)]):
        [won] = decided(busy, [f"user-{i}"])
        Participation.objects.filter(coupon_code=won.coupon_code).update(redeemed_at=redeemed_at)

    day = (datetime(2025, 1, 15, tzinfo=SEOUL), datetime(2025, 1, 16, tzinfo=SEOUL))
    redeemed, read = entries_read(lambda: stats_selectors.redemptions_by_campaign(*day))
    assert redeemed == {busy.pk: 3}
    assert read <= 3 + 3 * 2 + 4, f"{read} entries read for 3 redemptions of the day among 38"

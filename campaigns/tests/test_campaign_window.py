"""The campaign's window decides what is accepted, never what is decided: a request the broker
acknowledged while the campaign was open is decided on its merits after the campaign closed."""
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db(transaction=True)


def closed_campaign_with_requests_from_when_it_was_open(users):
    now = timezone.now()
    campaign = CampaignFactory(total_stock=2, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1))
    received = now - timedelta(minutes=90)  # inside the window
    return campaign, [participation_request(campaign, user, offset=i, received_at=received)
                      for i, user in enumerate(users)]


@pytest.mark.parametrize("path", ["per event", "batch"])
def test_a_request_accepted_while_open_is_decided_after_the_campaign_closed(path):
    campaign, requests = closed_campaign_with_requests_from_when_it_was_open(["a", "b", "c", "a"])
    assert campaign.status_at(timezone.now()) == Campaign.Status.CLOSED

    if path == "per event":
        outcomes = [services.participation_decide(r).status for r in requests]
    else:
        with transaction.atomic():
            outcomes = [d.status for d in services.participations_decide_batch(requests)]

    assert outcomes == ["SUCCESS", "SUCCESS", "SOLD_OUT", "DUPLICATE"]
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 0

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


@pytest.fixture
def unreachable_database(settings):
    """The default connection pointed at a port where nothing listens: every read is refused by
    the network, as it is while a database server is down. Restored at the end."""
    from django.db import connection

    from lab.embedded import free_port

    saved = dict(connection.settings_dict)

    def go_away():
        connection.close()
        connection.settings_dict["PORT"] = str(free_port())
        connection.settings_dict["OPTIONS"] = {**connection.settings_dict.get("OPTIONS", {}), "connect_timeout": 1}

    yield go_away
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def test_an_unreadable_database_serves_the_last_window_then_503_a_sold_out_one_for_ever(settings, unreachable_database):
    from campaigns import selectors
    from campaigns.errors import CampaignSoldOut, DatabaseUnavailable

    settings.FIRSTCOME_CAMPAIGN_CACHE_S, settings.FIRSTCOME_CAMPAIGN_STALE_S = 0, 3600
    selectors.campaign_window_cache_clear()
    open_one, sold_out = CampaignFactory(total_stock=5), CampaignFactory(total_stock=1)
    services.participation_decide(participation_request(sold_out, "winner"))  # its one coupon goes
    never_read = CampaignFactory(total_stock=5)
    known = {c.pk: selectors.campaign_window(c.pk) for c in (open_one, sold_out)}
    unreachable_database()
    assert selectors.campaign_window(open_one.pk) == known[open_one.pk]  # the last one read
    with pytest.raises(DatabaseUnavailable) as refused:
        selectors.campaign_window(never_read.pk)
    assert refused.value.http_status == 503 and refused.value.headers() == {"Retry-After": "5"}
    settings.FIRSTCOME_CAMPAIGN_STALE_S = 0  # the outage outlasted the staleness allowed
    selectors._unreadable_until.clear()
    with pytest.raises(DatabaseUnavailable):
        selectors.campaign_window(open_one.pk)
    window = selectors.campaign_window(sold_out.pk)  # sold out stays sold out, however old
    with pytest.raises(CampaignSoldOut):
        services.participation_prepare(window, "late", timezone.now())


def test_an_unreadable_database_is_asked_again_at_most_once_per_retry_interval(settings, unreachable_database,
                                                                               monkeypatch):
    """The connection attempts are the real ones (refused by the network), counted on their way."""
    from django.db import connection

    from campaigns import selectors
    from campaigns.errors import DatabaseUnavailable

    settings.FIRSTCOME_CAMPAIGN_CACHE_S, settings.FIRSTCOME_CAMPAIGN_STALE_S = 0, 3600
    selectors.campaign_window_cache_clear()
    campaign = CampaignFactory(total_stock=5)
    known = selectors.campaign_window(campaign.pk)
    unreachable_database()
    attempts = []
    connect = connection.get_new_connection
    monkeypatch.setattr(connection, "get_new_connection", lambda params: attempts.append(1) or connect(params))
    for _ in range(20):  # a burst within the retry interval: one attempt, the known window for all
        assert selectors.campaign_window(campaign.pk) == known
    assert len(attempts) == 1
    with pytest.raises(DatabaseUnavailable):  # never read: 503 at once, no attempt of its own
        selectors.campaign_window(campaign.pk + 1000)
    assert len(attempts) == 2  # its own first attempt; the next one waits out the interval
    with pytest.raises(DatabaseUnavailable):
        selectors.campaign_window(campaign.pk + 1000)
    assert len(attempts) == 2
    selectors._unreadable_until.clear()  # the interval over
    selectors.campaign_window(campaign.pk)  # asked again
    assert len(attempts) == 3

"""Operating campaigns from the admin: the list's status, stock and outcomes (read from the row's
counters), its filters and search, and closing a campaign now (action, button, service)."""
import itertools
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import selectors, services
from testsupport.identity import ParticipantClient
from campaigns.errors import CampaignNotOpen
from campaigns.models import Campaign
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/campaigns/campaign/"
HOUR = timedelta(hours=1)


def decide(campaign, users):
    services.participations_decide_batch(
        [participation_request(campaign, user, offset=i) for i, user in enumerate(users)])


def row_of(page, campaign):
    """The cells of the campaign's row in the change list, as text."""
    results = page[page.index('id="result_list"'):]
    row = next(row for row in re.findall(r"<tr[^>]*>(.*?)</tr>", results, re.S)
               if f"/admin/campaigns/campaign/{campaign.pk}/change/" in row)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def test_the_list_shows_status_stock_and_outcomes_from_the_row_and_links_to_the_dashboard(admin_client):
    now = timezone.now()
    campaign = CampaignFactory(name="Spring", total_stock=3, starts_at=now - HOUR)
    decide(campaign, ["a", "b", "a", "c", "d", "e"])  # 3 SUCCESS, 1 DUPLICATE, 2 SOLD_OUT
    scheduled = CampaignFactory(name="Summer", total_stock=10, starts_at=now + HOUR)

    page = admin_client.get(LIST_URL).content.decode()

    assert row_of(page, campaign)[1:8] == [str(campaign.pk), "Spring", "Sold Out", "3 / 3", "3", "2", "1"]
    assert row_of(page, scheduled)[1:8] == [str(scheduled.pk), "Summer", "Scheduled", "0 / 10", "0", "0", "0"]
    assert f'href="/dashboard/?campaign_id={campaign.pk}"' in page
    assert f'href="/api/admin/campaigns/{campaign.pk}/winners.csv"' in page


def test_the_list_reads_no_participation_row_however_many_campaigns(admin_client):
    def list_queries():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(LIST_URL).status_code == 200
        return [q["sql"] for q in queries]

    decide(CampaignFactory(), ["a", "b"])
    few = list_queries()
    for _ in range(5):
        decide(CampaignFactory(), ["a", "a", "b"])
    many = list_queries()

    assert len(many) == len(few)
    assert not [sql for sql in many if "participation" in sql]


def windows(now):
    """Every kind of window around `now` (either end missing, at, before or after now), full or
    sold out."""
    times = [None, now - 2 * HOUR, now - HOUR, now, now + HOUR, now + 2 * HOUR]
    for starts_at, ends_at, remaining in itertools.product(times, times, [0, 5]):
        if starts_at and ends_at and ends_at <= starts_at:
            continue  # refused by campaign_ends_after_start
        yield dict(starts_at=starts_at, ends_at=ends_at, total_stock=5, remaining_stock=remaining)


def test_the_status_filter_selects_exactly_the_campaigns_status_at_gives_that_status():
    now = timezone.now().replace(microsecond=0)
    campaigns = [CampaignFactory(**window) for window in windows(now)]

    for status in Campaign.Status.values:
        filtered = set(Campaign.objects.filter(selectors.campaign_status_filter(status=status, now=now))
                       .values_list("pk", flat=True))
        assert filtered == {c.pk for c in campaigns if c.status_at(now) == status}, status


def test_the_list_filters_by_status_and_searches_by_name_or_id(admin_client):
    now = timezone.now()
    open_ = CampaignFactory(name="Open one", starts_at=now - HOUR)
    closed = CampaignFactory(name="Closed one", starts_at=now - 2 * HOUR, ends_at=now - HOUR)

    def listed(query):
        page = admin_client.get(LIST_URL + query).content.decode()
        return {pk for pk in (open_.pk, closed.pk) if f"/admin/campaigns/campaign/{pk}/change/" in page}

    assert listed("?status=OPEN") == {open_.pk}
    assert listed("?status=CLOSED") == {closed.pk}
    assert listed("?status=SCHEDULED") == set()
    assert listed("?q=closed") == {closed.pk}
    assert listed(f"?q={open_.pk}") == {open_.pk}
    assert listed("?status=nonsense") == {open_.pk, closed.pk}


def test_close_now_from_the_list_then_a_participation_is_refused_409(admin_client, client, settings):
    settings.FIRSTCOME_CAMPAIGN_CACHE_S = 3600  # the refusal must come from the cleared cache, not expiry
    campaign = CampaignFactory(starts_at=timezone.now() - HOUR)
    assert selectors.campaign_window(campaign.pk).ends_at is None  # this process has it cached, open

    response = admin_client.post(LIST_URL, {"action": "close_now", "_selected_action": [campaign.pk]}, follow=True)

    assert response.status_code == 200
    assert f"Closed {campaign}" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.ends_at <= timezone.now()
    refused = ParticipantClient().post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": "late"},
                                       format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "campaign_not_open"


def test_the_change_page_button_closes_the_campaign(admin_client):
    campaign = CampaignFactory(starts_at=timezone.now() - HOUR)
    close_url = f"/admin/campaigns/campaign/{campaign.pk}/close-now/"
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert f'action="{close_url}"' in page
    assert f'href="/dashboard/?campaign_id={campaign.pk}"' in page

    assert admin_client.get(close_url).status_code == 405  # a GET (a prefetch, a crawler) closes nothing
    response = admin_client.post(close_url)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/campaigns/campaign/{campaign.pk}/change/"
    campaign.refresh_from_db()
    assert campaign.status_at(timezone.now()) == Campaign.Status.CLOSED
    page = admin_client.get(response["Location"]).content.decode()
    assert f'action="{close_url}"' not in page  # a closed campaign has no button


def test_closing_what_is_closed_or_not_open_yet_changes_nothing_and_says_why(admin_client):
    now = timezone.now()
    closed = CampaignFactory(starts_at=now - 2 * HOUR, ends_at=now - HOUR)
    scheduled = CampaignFactory(starts_at=now + HOUR)
    before = {c.pk: c.ends_at for c in (closed, scheduled)}

    response = admin_client.post(LIST_URL, {"action": "close_now", "_selected_action": [closed.pk, scheduled.pk]},
                                 follow=True)

    page = response.content.decode()
    assert f"ampaign {closed.pk} is already closed" in page
    assert f"ampaign {scheduled.pk} has not opened yet" in page
    assert dict(Campaign.objects.filter(pk__in=before).values_list("pk", "ends_at")) == before


def test_a_non_staff_user_cannot_close_a_campaign(client, django_user_model):
    campaign = CampaignFactory()
    django_user_model.objects.create_user("clerk", password="clerk-pass")
    client.login(username="clerk", password="clerk-pass")

    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/close-now/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    campaign.refresh_from_db()
    assert campaign.ends_at is None


def test_the_service_closes_at_the_given_time_and_refuses_a_second_close():
    now = timezone.now()
    campaign = CampaignFactory(total_stock=2, remaining_stock=0, starts_at=now - HOUR)  # sold out: still closable

    closed = services.campaign_close_now(campaign_id=campaign.pk, now=now)

    assert closed.ends_at == now
    assert closed.status_at(now) == Campaign.Status.CLOSED
    with pytest.raises(CampaignNotOpen, match="already closed"):
        services.campaign_close_now(campaign_id=campaign.pk, now=now + HOUR)
    campaign.refresh_from_db()
    assert campaign.ends_at == now


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(term=st.text(min_size=1, max_size=40))
def test_any_search_term_is_answered_200_without_error(admin_client, term):
    """Digits that are not ASCII ("²", "١") included: they are not an id."""
    assert admin_client.get("/admin/campaigns/campaign/", {"q": term}).status_code == 200


def test_superscript_and_other_script_digits_are_searched_as_names(admin_client):
    named = CampaignFactory(name="Größe² ١٢ ७")
    other = CampaignFactory(name="Spring")
    for term in ("²", "١٢", "७"):
        page = admin_client.get("/admin/campaigns/campaign/", {"q": term}).content.decode()
        assert f"/admin/campaigns/campaign/{named.pk}/change/" in page, term
        assert f"/admin/campaigns/campaign/{other.pk}/change/" not in page, term

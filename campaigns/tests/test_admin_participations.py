"""Participations in the admin: read-only, found by exact user id, request id or coupon code,
filtered by status and campaign, and never counted whole."""
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import selectors, services
from campaigns.admin import CappedCountPaginator, ParticipationAdmin
from campaigns.models import Campaign, Participation
from testsupport.database import entries_read
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/campaigns/participation/"


def decide(campaign, users):
    return services.participations_decide_batch(
        [participation_request(campaign, user, offset=i) for i, user in enumerate(users)])


def listed(admin_client, query=""):
    """The request ids on the change list's page."""
    response = admin_client.get(LIST_URL + query)
    assert response.status_code == 200
    page = response.content.decode()
    return set(re.findall(r"/admin/campaigns/participation/(\d+)/change/", page)), page


def ids(*rows):
    return {str(row.pk) for row in rows}


@pytest.fixture
def decided():
    spring, summer = CampaignFactory(total_stock=1), CampaignFactory(total_stock=5)
    decide(spring, ["alice", "bob", "alice"])  # alice wins, bob sold out, alice again: duplicate
    decide(summer, ["alice", "Alice"])
    rows = {(r.campaign_id, r.user_id, r.status): r for r in Participation.objects.all()}
    return spring, summer, rows


def test_participations_cannot_be_added_changed_or_deleted(admin_client, decided):
    row = next(iter(decided[2].values()))
    assert admin_client.get(LIST_URL + "add/").status_code == 403
    page = admin_client.get(f"{LIST_URL}{row.pk}/change/").content.decode()
    assert not re.search(r'<(input|select|textarea)[^>]+name="(user_id|status|coupon_code)"', page)
    assert admin_client.post(f"{LIST_URL}{row.pk}/change/", {"user_id": "mallory"}).status_code == 403
    assert admin_client.get(f"{LIST_URL}{row.pk}/delete/").status_code == 403
    assert Participation.objects.get(pk=row.pk).user_id == row.user_id


def test_search_finds_exact_user_ids_request_ids_and_typed_coupon_codes(admin_client, decided):
    spring, summer, rows = decided
    alice_won = rows[(spring.pk, "alice", "SUCCESS")]
    alice_rows = [r for (_, user, _), r in rows.items() if user == "alice"]

    assert listed(admin_client, "?q=alice")[0] == ids(*alice_rows, rows[(spring.pk, "alice", "DUPLICATE")])
    assert listed(admin_client, "?q=Alice")[0] == ids(rows[(summer.pk, "Alice", "SUCCESS")])  # byte for byte
    assert listed(admin_client, "?q=ali")[0] == set()  # no substring scan
    assert listed(admin_client, f"?q={alice_won.request_id}")[0] == ids(alice_won)
    typed = "-".join(re.findall("....", alice_won.coupon_code.lower()))  # as read off a coupon
    assert listed(admin_client, f"?q={typed}")[0] == ids(alice_won)


def test_a_user_id_search_reads_its_rows_not_the_table(admin_client, decided):
    """A user id leads no index: the search looks it up after each campaign id instead of
    scanning every participation (the admin's page of a busy table)."""
    spring, summer, rows = decided
    crowd = CampaignFactory(total_stock=10)
    decide(crowd, [f"someone-{i}" for i in range(200)])
    found, read = entries_read(lambda: selectors.participation_ids_matching(term="alice"))
    assert set(map(str, found)) == ids(*[r for (_, user, _), r in rows.items() if user == "alice"])
    assert read <= 20, f"{read} rows or index entries read to find 3 participations among 205"


def test_a_user_id_search_over_more_campaigns_than_one_lookup_takes(decided):
    """The campaigns are looked up a few hundred at a time (CAMPAIGNS_PER_LOOKUP), each a probe of
    the (campaign, user_id) key: rows in the first and the last campaign are found, and the reads
    grow with the campaigns, not with the participations."""
    spring, summer, rows = decided
    many = Campaign.objects.bulk_create([Campaign(name=f"c{i}", total_stock=1, remaining_stock=1)
                                         for i in range(2 * selectors.CAMPAIGNS_PER_LOOKUP + 50)])
    decide(many[-1], ["alice"])
    found, read = entries_read(lambda: selectors.participation_ids_matching(term="alice"))
    alice = [r.pk for (_, user, _), r in rows.items() if user == "alice"]
    assert found == sorted([*alice, Participation.objects.get(campaign=many[-1]).pk])
    assert read <= 3 * Campaign.objects.count() + 10


def test_filters_by_status_and_campaign(admin_client, decided):
    spring, summer, rows = decided
    assert listed(admin_client, "?status__exact=SOLD_OUT")[0] == ids(rows[(spring.pk, "bob", "SOLD_OUT")])
    assert listed(admin_client, f"?campaign__id__exact={summer.pk}")[0] == ids(
        rows[(summer.pk, "alice", "SUCCESS")], rows[(summer.pk, "Alice", "SUCCESS")])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(term=st.text(min_size=1, max_size=80))
def test_any_search_term_is_answered_200_without_error(admin_client, term):
    response = admin_client.get(LIST_URL, {"q": term})
    assert response.status_code == 200


def test_the_list_never_counts_the_whole_table(admin_client, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 10)
    monkeypatch.setattr(ParticipationAdmin, "list_per_page", 5)
    decide(CampaignFactory(total_stock=4), [f"user-{i}" for i in range(12)])

    with CaptureQueriesContext(connection) as queries:
        shown, page = listed(admin_client, "?p=2")

    assert len(shown) == 5
    assert re.search(r"10\+\s+participations", page)
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 11" in sql for sql in counts), counts


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(term=st.text(min_size=1, max_size=80))
def test_the_decision_events_list_answers_any_search_without_counting_the_table(admin_client, term):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/stats/decisionevent/", {"q": term})
    assert response.status_code == 200
    assert all("LIMIT" in q["sql"] for q in queries if "COUNT(" in q["sql"].upper())

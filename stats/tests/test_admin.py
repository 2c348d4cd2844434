"""The run history and the statistics in the admin: visible, not editable."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from stats import services
from stats.models import BatchRun
from testsupport.factories import CampaignFactory, decision_events

pytestmark = pytest.mark.django_db
NOON = datetime(2025, 1, 15, 12, tzinfo=ZoneInfo("Asia/Seoul"))


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_a_run_and_its_failures_are_shown_read_only(admin_client):
    services.decision_events_store(decision_events(777, {"SUCCESS": 1}, received_at=NOON))
    run = services.stats_batch_run(date_from=date(2025, 1, 15), date_to=date(2025, 1, 15))
    page = f"/admin/stats/batchrun/{run.pk}/change/"

    listing = admin_client.get("/admin/stats/batchrun/")
    detail = admin_client.get(page)

    assert listing.status_code == 200
    assert [(r.pk, r.status) for r in listing.context["cl"].result_list] == [(run.pk, "FAILED")]
    assert detail.status_code == 200
    assert b"--from 2025-01-15 --to 2025-01-15 (Asia/Seoul)" in detail.content
    assert b"IntegrityError" in detail.content  # campaign 777 does not exist: the failure, inline
    assert b'name="_save"' not in detail.content
    assert admin_client.post(page, {"status": "COMPLETED"}).status_code == 403
    assert admin_client.get("/admin/stats/batchrun/add/").status_code == 403
    assert admin_client.post(f"/admin/stats/batchrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert BatchRun.objects.get().status == "FAILED"


@pytest.mark.parametrize("model, field, value", [("campaignstats", "sold_out_count", 1),
                                                  ("decisionevent", "status", "SOLD_OUT")])
def test_statistics_are_listed_and_cannot_be_added(admin_client, model, field, value):
    campaign = CampaignFactory(name="Spring sale")
    services.decision_events_store(decision_events(campaign, {"SOLD_OUT": 1}, received_at=NOON))
    services.stats_batch_run(date_from=date(2025, 1, 15), date_to=date(2025, 1, 15))

    listing = admin_client.get(f"/admin/stats/{model}/")

    assert listing.status_code == 200
    assert [(r.campaign_id, getattr(r, field)) for r in listing.context["cl"].result_list] == [(campaign.pk, value)]
    assert admin_client.get(f"/admin/stats/{model}/add/").status_code == 403

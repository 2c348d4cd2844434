"""POST /lab/campaigns/{id}/participations-sync: off unless enabled, loopback only, 200 with the
outcome, a 400 naming a bad strategy; it no longer shares a path with the user-decision lookup."""
import os
import subprocess
import sys

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Campaign, Participation
from testsupport.factories import CampaignFactory, participation_request
from testsupport.identity import ParticipantClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiments(settings):
    settings.FIRSTCOME_EXPERIMENT_ENDPOINTS = True
    return settings


def sync(campaign_id, strategy="atomic", user_id="alice", client=None, **extra):
    url = f"/lab/campaigns/{campaign_id}/participations-sync"
    if strategy is not None:
        url += f"?strategy={strategy}"
    return (client or ParticipantClient()).post(url, {"user_id": user_id}, format="json", **extra)


def test_off_by_default_with_a_reason(settings):
    assert settings.FIRSTCOME_EXPERIMENT_ENDPOINTS is False
    campaign = CampaignFactory()

    response = sync(campaign.pk)

    assert response.status_code == 404
    assert response.json()["code"] == "experiments_disabled"
    assert "FIRSTCOME_EXPERIMENT_ENDPOINTS" in response.json()["detail"]
    assert Participation.objects.count() == 0


@pytest.mark.parametrize("strategy", ["naive", "atomic", "locked"])
def test_each_strategy_answers_200_with_the_final_outcome(experiments, strategy):
    campaign = CampaignFactory(total_stock=1)

    first, second, again = sync(campaign.pk, strategy, "alice"), sync(campaign.pk, strategy, "bob"), \
        sync(campaign.pk, strategy, "alice")

    assert [r.status_code for r in (first, second, again)] == [200, 200, 200]
    assert [r.json()["status"] for r in (first, second, again)] == ["SUCCESS", "SOLD_OUT", "DUPLICATE"]
    assert first.json()["campaign_id"] == campaign.pk and first.json()["user_id"] == "alice"
    # The request id is a real one: the result endpoint finds it.
    result = ParticipantClient().get(f"/api/participations/{first.json()['request_id']}")
    assert result.json()["status"] == "SUCCESS"
    assert Campaign.objects.get().remaining_stock == 0


def test_bad_or_missing_strategy_is_400_naming_it(experiments):
    campaign = CampaignFactory()

    bad, missing = sync(campaign.pk, "optimistic"), sync(campaign.pk, None)

    assert bad.status_code == missing.status_code == 400
    assert bad.json()["code"] == "unknown_strategy"
    assert "'optimistic'" in bad.json()["detail"] and "naive, atomic, locked" in bad.json()["detail"]
    assert "required" in missing.json()["detail"]
    assert Participation.objects.count() == 0


def test_bad_body_and_unknown_campaign(experiments):
    assert sync(999999).status_code == 404
    assert sync(CampaignFactory().pk, user_id="").status_code == 400


def test_refused_to_remote_and_proxied_clients(experiments):
    campaign = CampaignFactory()

    remote = sync(campaign.pk, REMOTE_ADDR="10.1.2.3")
    proxied = sync(campaign.pk, HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert remote.status_code == proxied.status_code == 403
    assert remote.json()["code"] == "loopback_only"
    assert sync(campaign.pk, REMOTE_ADDR="::1").status_code == 200
    assert Participation.objects.count() == 1


def test_user_named_sync_is_an_ordinary_user():
    campaign = CampaignFactory()
    services.participation_decide(participation_request(campaign, "sync"))

    response = ParticipantClient().get(f"/api/campaigns/{campaign.pk}/participations/sync")
    # A POST to that path is no experiment: the user-decision route answers it, and only GET.
    post = ParticipantClient().post(f"/api/campaigns/{campaign.pk}/participations/sync?strategy=naive",
                            {"user_id": "bob"}, format="json")

    assert response.status_code == 200
    assert response.json()["user_id"] == "sync"
    assert post.status_code == 405
    assert Participation.objects.count() == 1


def test_production_settings_refuse_to_start_with_experiments_on():
    env = {**os.environ, "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.com",
           "DATABASE_URL": "mysql://app@db.internal:3306/firstcome",
           "KAFKA_BOOTSTRAP_SERVERS": "kafka.internal:9092", "FIRSTCOME_EXPERIMENT_ENDPOINTS": "1",
           "KAFKA_SINGLE_BROKER": "true",
           "FIRSTCOME_JWT_JWKS_URL": "https://idp.example.com/jwks.json", "FIRSTCOME_JWT_ISSUER": "https://idp.example.com",
           "FIRSTCOME_JWT_AUDIENCE": "firstcome"}
    run = subprocess.run([sys.executable, "-c", "import campaign_site.settings.production"],
                         cwd=settings.BASE_DIR, env=env, capture_output=True, text=True)
    assert run.returncode != 0
    assert "FIRSTCOME_EXPERIMENT_ENDPOINTS must stay off in production" in run.stderr

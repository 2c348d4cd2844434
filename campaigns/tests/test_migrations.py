"""Data migrations run against the real database, on rows written as the older code wrote them."""
import importlib

import pytest
from django.apps import apps
from django.db import connection

from campaigns.coupons import coupon_code_read
from campaigns.decision import Decision
from campaigns.models import Participation
from campaigns.rows import participations_insert
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("campaigns.migrations.0006_coupon_codes_for_earlier_winners")


class Editor:
    connection = connection


def test_winners_decided_before_coupon_codes_get_one_each_and_nobody_else_does(monkeypatch):
    monkeypatch.setattr(backfill, "PAGE", 7)  # several pages
    campaign = CampaignFactory(total_stock=20)
    now = campaign.created_at
    statuses = ["SUCCESS"] * 20 + ["SOLD_OUT"] * 3 + ["DUPLICATE"] * 2
    decisions = [Decision(participation_request(campaign, f"u{i}" if status != "DUPLICATE" else "u0", offset=i),
                          status, now, None) for i, status in enumerate(statuses)]  # the rows before 0005
    participations_insert(decisions)
    already = Participation.objects.filter(status="SUCCESS").order_by("id").first()
    Participation.objects.filter(pk=already.pk).update(coupon_code="0123456789ABCDEX")  # a code kept as it is

    backfill.give_codes(apps, Editor())

    winners = list(Participation.objects.filter(status="SUCCESS").values_list("id", "coupon_code"))
    codes = [code for _, code in winners]
    assert len(winners) == 20 and None not in codes and len(set(codes)) == 20
    assert dict(winners)[already.pk] == "0123456789ABCDEX"
    assert all(coupon_code_read(code) == code for pk, code in winners if pk != already.pk)
    assert not Participation.objects.exclude(status="SUCCESS").exclude(coupon_code=None).exists()

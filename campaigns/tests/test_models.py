"""Once a campaign exists, its stock and counters move only through the decision: no save path
(Model.save, bulk writes, DRF serializers) writes them, stale or edited."""
import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import selectors, services
from campaigns.models import Campaign
from campaigns.serializers import CampaignSerializer
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db

DECISION_FIELDS = sorted(Campaign.DECISION_FIELDS)


def decide(campaign, users, *, offset=0):
    with transaction.atomic():
        return services.participations_decide_batch(
            [participation_request(campaign, user, offset=offset + i) for i, user in enumerate(users)])


def row(campaign):
    return Campaign.objects.values("name", *DECISION_FIELDS).get(pk=campaign.pk)


def test_saving_a_stale_copy_keeps_the_decisions_stock_and_counters():
    campaign = CampaignFactory(total_stock=2)
    stale = Campaign.objects.get(pk=campaign.pk)
    decide(campaign, ["a", "a", "b", "c"])

    stale.name = "renamed"
    stale.save()

    assert row(campaign) == {"name": "renamed", "total_stock": 2, "remaining_stock": 0,
                             "sold_out_count": 1, "duplicate_count": 1}


def test_a_saved_copy_can_be_saved_again_after_a_refresh():
    campaign = CampaignFactory(total_stock=2)
    decide(campaign, ["a"])
    campaign.refresh_from_db()
    campaign.name = "again"
    campaign.save()
    assert row(campaign)["remaining_stock"] == 1


@pytest.mark.parametrize("field", DECISION_FIELDS)
def test_editing_stock_or_counters_in_memory_and_saving_is_refused(field):
    campaign = Campaign.objects.get(pk=CampaignFactory(total_stock=5).pk)
    before = row(campaign)
    setattr(campaign, field, 1)
    campaign.name = "renamed"

    with pytest.raises(ValueError, match=f"Campaign.save\\(\\) cannot write {field} .* only the decision"):
        campaign.save()
    assert row(campaign) == before


@pytest.mark.parametrize("field", DECISION_FIELDS)
def test_save_with_update_fields_naming_stock_or_counters_is_refused(field):
    campaign = CampaignFactory(total_stock=5)
    with pytest.raises(ValueError, match=f"cannot write {field} "):
        campaign.save(update_fields=["name", field])


@pytest.mark.parametrize("field", DECISION_FIELDS)
def test_queryset_update_and_bulk_update_of_stock_or_counters_are_refused(field):
    campaign = CampaignFactory(total_stock=5)
    before = row(campaign)
    with pytest.raises(ValueError, match=rf"QuerySet.update\(\) cannot write {field} "):
        Campaign.objects.filter(pk=campaign.pk).update(**{field: F(field) + 1})
    with pytest.raises(ValueError, match=rf"bulk_update\(\) cannot write {field} "):
        Campaign.objects.bulk_update([campaign], [field])
    with pytest.raises(ValueError, match=rf"update_conflicts=True\) cannot write {field} "):
        Campaign.objects.bulk_create([Campaign(pk=campaign.pk, name="x", total_stock=9, remaining_stock=9)],
                                     update_conflicts=True, update_fields=[field])
    with pytest.raises(ValueError, match=f"cannot write {field} "):
        Campaign.objects.update_or_create(pk=campaign.pk, defaults={field: 1})
    assert row(campaign) == before


def test_other_columns_still_update_in_bulk():
    campaign = CampaignFactory(total_stock=5)
    Campaign.objects.filter(pk=campaign.pk).update(name="bulk")
    campaign.name = "bulk again"
    Campaign.objects.bulk_update([campaign], ["name"])
    assert row(campaign) == {"name": "bulk again", "total_stock": 5, "remaining_stock": 5,
                             "sold_out_count": 0, "duplicate_count": 0}


def test_a_new_instance_with_an_existing_pk_cannot_overwrite_that_campaign():
    campaign = CampaignFactory(total_stock=5)
    decide(campaign, ["a"])
    before = row(campaign)

    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign(pk=campaign.pk, name="impostor", total_stock=5, remaining_stock=5).save()
    with pytest.raises(ValueError, match="inserts a row"):
        Campaign(pk=campaign.pk, name="impostor", total_stock=5, remaining_stock=5).save(force_update=True)
    assert row(campaign) == before


def test_the_api_serializer_writes_nothing_back_but_the_name():
    campaign = CampaignFactory(total_stock=5)
    serializer = CampaignSerializer(Campaign.objects.get(pk=campaign.pk), partial=True, data={
        "name": "ignored too", "total_stock": 500, "remaining_stock": 500, "status": "OPEN"})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {}
    serializer.save()
    assert row(campaign) == {"name": campaign.name, "total_stock": 5, "remaining_stock": 5,
                             "sold_out_count": 0, "duplicate_count": 0}


def test_campaign_create_starts_a_new_row_full():
    campaign = services.campaign_create(name="fresh", total_stock=3)
    decide(campaign, ["a"])
    campaign.name = "fresh, renamed"
    campaign.save()  # the instance campaign_create returned, now stale
    assert row(campaign)["remaining_stock"] == 2


# --- any interleaving of saves and decisions --------------------------------------------------

HANDLES = 3  # copies of the campaign read at different moments, saved later
operations = st.lists(st.one_of(
    st.tuples(st.just("read"), st.integers(0, HANDLES - 1)),
    st.tuples(st.just("rename"), st.integers(0, HANDLES - 1)),
    st.tuples(st.just("edit"), st.integers(0, HANDLES - 1), st.sampled_from(DECISION_FIELDS), st.integers(0, 50)),
    st.tuples(st.just("serializer"), st.integers(0, HANDLES - 1), st.integers(0, 50)),
    st.tuples(st.just("decide"), st.lists(st.integers(0, 9), min_size=1, max_size=8)),
), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stock=st.integers(1, 6), ops=operations)
def test_saves_interleaved_with_decisions_never_move_the_stock(stock, ops):
    campaign = CampaignFactory(total_stock=stock)
    handles = [Campaign.objects.get(pk=campaign.pk) for _ in range(HANDLES)]
    offset = 0
    for op in ops:
        before = row(campaign)
        kind, *args = op
        if kind == "decide":
            decide(campaign, [f"user-{u}" for u in args[0]], offset=offset)
            offset += len(args[0])
        elif kind == "read":
            handles[args[0]] = Campaign.objects.get(pk=campaign.pk)
        elif kind == "rename":
            handles[args[0]].name = f"renamed at {offset}"
            handles[args[0]].save()
        elif kind == "edit":
            handle, field, value = handles[args[0]], args[1], args[2]
            if getattr(handle, field) != value:
                setattr(handle, field, value)
                with pytest.raises(ValueError):
                    handle.save()
                handles[args[0]] = Campaign.objects.get(pk=campaign.pk)
        elif kind == "serializer":
            serializer = CampaignSerializer(handles[args[0]], partial=True,
                                            data={"total_stock": args[1], "remaining_stock": args[1]})
            assert serializer.is_valid(), serializer.errors
            serializer.save()
        after = row(campaign)
        if kind != "decide":
            assert {f: after[f] for f in DECISION_FIELDS} == {f: before[f] for f in DECISION_FIELDS}, op
        current = Campaign.objects.get(pk=campaign.pk)
        counted = selectors.outcome_counts(campaign.pk)
        assert counted["SUCCESS"] <= stock
        assert selectors.outcome_counters(current) == counted, op

"""Batched decisions are exactly per-event decisions, only cheaper: a property test on MariaDB."""
import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import services
from campaigns.models import Campaign, Participation
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db


def decide_in_savepoint(decide):
    """Run a decision procedure, read back outcomes and stock, then roll everything back."""
    with transaction.atomic():
        outcomes = decide()
        stock = dict(Campaign.objects.values_list("pk", "remaining_stock"))
        rows = sorted(Participation.objects.values_list("request_id", "status"))
        transaction.set_rollback(True)
    return outcomes, stock, rows


stream_spec = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 6), st.booleans()),  # campaign, user, replay?
    min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=stream_spec, stocks=st.lists(st.integers(0, 4), min_size=3, max_size=3),
       cuts=st.lists(st.integers(1, 40), max_size=6))
def test_batched_decisions_equal_one_at_a_time(spec, stocks, cuts):
    campaigns = [CampaignFactory(total_stock=5, remaining_stock=s) for s in stocks]
    stream = []
    for offset, (c, user, replay) in enumerate(spec):
        if replay and stream:  # a redelivered message: the same request again
            stream.append(stream[-1])
        else:
            stream.append(participation_request(campaigns[c], f"user-{user}", offset=offset))

    one_at_a_time = decide_in_savepoint(
        lambda: [services.participation_decide(r).status for r in stream])

    def batched():
        outcomes, start = [], 0
        for end in sorted(set(cuts + [len(stream)])):
            if end > start:
                outcomes += [d.status for d in services.participations_decide_batch(stream[start:end])]
                start = end
        return outcomes

    assert decide_in_savepoint(batched) == one_at_a_time


def test_a_redelivered_batch_gets_the_same_outcomes_and_changes_nothing():
    campaign = CampaignFactory(total_stock=2)
    batch = [participation_request(campaign, u, offset=i) for i, u in enumerate("abcab")]
    with transaction.atomic():
        first = [d.status for d in services.participations_decide_batch(batch)]
    with transaction.atomic():
        again = [d.status for d in services.participations_decide_batch(batch)]
    assert first == again == ["SUCCESS", "SUCCESS", "SOLD_OUT", "DUPLICATE", "DUPLICATE"]
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 0
    assert Participation.objects.count() == 5


def test_unknown_campaigns_are_returned_as_none():
    campaign = CampaignFactory(total_stock=1)
    gone = CampaignFactory()
    ghost = participation_request(gone, "ghost")
    gone.delete()
    with transaction.atomic():
        decisions = services.participations_decide_batch([ghost, participation_request(campaign, "real")])
    assert decisions[0] is None and decisions[1].status == "SUCCESS"


def _decide_in_a_batch(requests):
    with transaction.atomic():
        return services.participations_decide_batch(requests)


def _decide_one_at_a_time(requests):
    return [services.participation_decide(r) for r in requests]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("decide", [_decide_in_a_batch, _decide_one_at_a_time])
@pytest.mark.parametrize("user, tries", [("poison-1048", 1), ("poison-1062", 3)])
def test_only_a_unique_key_refusal_is_decided_again(refusing_trigger, decide, user, tries):
    """A unique key's refusal (1062) may be a redelivery or a concurrent decision: deciding again
    answers it. Any other refusal (1048, NOT NULL, from a real trigger) fails the same way every
    time, so it is raised at once for the consumer to split the batch (streaming/worker.py)."""
    campaign = CampaignFactory(total_stock=5)
    with CaptureQueriesContext(connection) as queries, pytest.raises(IntegrityError) as refused:
        decide([participation_request(campaign, user)])
    assert refused.value.args[0] == int(user.rsplit("-", 1)[1])
    # Each try moves the stock once, then its insert fails and takes the move back.
    assert sum(str(q["sql"]).startswith("UPDATE `campaign` SET `remaining_stock`") for q in queries) == tries
    assert Participation.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_batch_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        services.participations_decide_batch([participation_request(CampaignFactory(), "x")])
    assert Participation.objects.count() == 0


@pytest.mark.parametrize("user_id", ["o'brien", "back\\slash", 'say "hi"', "유저-1", "emoji😀",
                                     "'); DROP TABLE participation; --", "percent %s %d", "nul-free\x7f"])
def test_user_ids_reach_the_database_exactly_as_sent(user_id):
    campaign = CampaignFactory(total_stock=1)
    with transaction.atomic():
        [decision] = services.participations_decide_batch([participation_request(campaign, user_id)])
    assert decision.status == "SUCCESS"
    assert list(Participation.objects.values_list("user_id", flat=True)) == [user_id]
    row = Participation.objects.get()
    assert (row.request_id, row.received_at, row.decided_at) == (
        decision.request.request_id, decision.request.received_at, decision.decided_at)

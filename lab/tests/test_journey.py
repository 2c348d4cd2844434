"""The user-journey benchmark at a small size: every user gets a final answer, then THE invariants."""
import pytest

from bench.journey import parser, run_journey
from testsupport.invariants import check_invariants
from testsupport.publishing import Published

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_journey_gives_every_user_a_final_answer_and_keeps_the_invariants(kafka_topics):
    args = parser().parse_args(["--users", "150", "--stock", "20", "--vus", "20", "--wait", "2"])
    campaign, results, _logs = run_journey(args, record=True)
    for phase in results:
        assert (phase["final"], phase["errors"]) == (phase["users"], 0), phase
    assert results[0]["accepted"] > 0
    published = Published({rid: user for phase in results for rid, user in phase["published"].items()})
    assert len(published.request_ids) == sum(phase["accepted"] for phase in results)
    check_invariants(campaign, published)

"""The experiment's metrics on small hand-made streams with known answers."""
import math

import pytest

from stats.ordering import (
    DecidedEvent,
    Fairness,
    commit_rate,
    fairness,
    percentiles,
    rate_series,
    switch_ratio,
    violation_count,
)


def ev(seq, user="u", status="SUCCESS", partition=0, offset=0, broker_ts=0, received_at=0, decided_at=0):
    return DecidedEvent(seq, user, status, partition, offset, broker_ts, received_at, decided_at)


def test_switch_ratio_counts_partition_changes_in_broker_time_order():
    one_partition = [ev(i, offset=i, broker_ts=i) for i in range(5)]
    assert switch_ratio(one_partition) == 0
    # by broker time: p0, p1, p1, p0 -> two switches out of three neighbours
    mixed = [ev(1, partition=0, broker_ts=10), ev(2, partition=1, broker_ts=20),
             ev(3, partition=0, broker_ts=40), ev(4, partition=1, broker_ts=30)]
    assert switch_ratio(mixed) == pytest.approx(2 / 3)
    assert switch_ratio([ev(1)]) == 0


def test_violations_are_per_user_inversions_of_kafka_order():
    in_order = [ev(1, "a", offset=1), ev(2, "b", offset=2), ev(3, "a", offset=3)]
    assert violation_count(in_order) == 0
    # user a decided offset 5 before offset 3 in the same partition: one inversion
    same_partition = [ev(1, "a", offset=5), ev(2, "a", offset=3), ev(3, "b", offset=4)]
    assert violation_count(same_partition) == 1
    # across partitions the broker timestamp decides: decided 200 before 100 -> one inversion
    across = [ev(1, "a", partition=0, broker_ts=200), ev(2, "a", partition=1, broker_ts=100),
              ev(3, "a", partition=0, broker_ts=300)]
    assert violation_count(across) == 1


def test_fairness_counts_winners_who_asked_after_a_loser():
    fair = [ev(1, "a", "SUCCESS", received_at=1_000), ev(2, "b", "SUCCESS", received_at=2_000),
            ev(3, "c", "SOLD_OUT", received_at=3_000), ev(4, "a", "DUPLICATE", received_at=9_000)]
    assert fairness(fair, lambda e: e.received_at) == Fairness(0, 0.0)
    unfair = [ev(1, "a", "SUCCESS", received_at=1_000), ev(2, "b", "SOLD_OUT", received_at=2_000),
              ev(3, "c", "SUCCESS", received_at=5_000), ev(4, "d", "SUCCESS", received_at=2_500)]
    assert fairness(unfair, lambda e: e.received_at) == Fairness(2, 3.0)  # c is 3 ms after b
    assert fairness(unfair[:1], lambda e: e.received_at) == Fairness(0, 0.0)  # nobody lost
    assert Fairness.combine([Fairness(2, 3.0), Fairness(0, 0.0), Fairness(1, 7.5)]) == Fairness(3, 7.5)


def test_rates_and_percentiles():
    assert commit_rate([0, 500_000, 1_000_000]) == 2  # two decisions in the second after the first commit
    assert commit_rate([0, 0, 0, 1_000_000, 1_000_000]) == 2  # batches share their commit time
    assert math.isnan(commit_rate([5, 5, 5]))  # one commit: no rate
    assert percentiles(list(range(1, 101))) == {50: 50, 95: 95, 99: 99}
    assert percentiles([7]) == {50: 7, 95: 7, 99: 7}
    assert rate_series([0, 100_000, 1_200_000, 2_900_000]) == [(0.0, 2.0), (1.0, 1.0), (2.0, 1.0)]

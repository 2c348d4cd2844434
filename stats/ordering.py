"""Ordering and fairness metrics of a decided stream: the partition experiment's numbers
(lab/partition_experiment.py) and a real campaign's fairness report (stats.fairness), one set of
definitions for both.

Pure functions over `DecidedEvent`s; times are epoch microseconds. `seq` is the decision order
(the participation row id, or the stored decision event's: both are inserted in decision order).
"""
from typing import NamedTuple


class DecidedEvent(NamedTuple):
    seq: int
    user_id: str
    status: str
    partition: int
    offset: int
    broker_ts: int
    received_at: int
    decided_at: int


def kafka_order_key(event):
    """Global Kafka order as far as it exists: broker timestamp, then partition and offset."""
    return (event.broker_ts, event.partition, event.offset)


def switch_ratio(events):
    """Share of consecutive events (by broker timestamp) that sit in different partitions.
    0 with one partition; about 1 - 1/N when N partitions interleave at random."""
    ordered = sorted(events, key=kafka_order_key)
    if len(ordered) < 2:
        return 0.0
    switches = sum(a.partition != b.partition for a, b in zip(ordered, ordered[1:]))
    return switches / (len(ordered) - 1)


def violation_count(events):
    """Per user, Kafka order inversions: consecutive decisions (in decision order) where the one
    decided later came earlier in Kafka (same partition: a lower offset; across partitions: an
    earlier broker timestamp). 0 means every user's requests were decided in their Kafka order."""
    by_user = {}
    for event in sorted(events, key=lambda e: e.seq):
        by_user.setdefault(event.user_id, []).append(event)
    violations = 0
    for decided in by_user.values():
        for earlier, later in zip(decided, decided[1:]):
            if earlier.partition == later.partition:
                violations += later.offset < earlier.offset
            else:
                violations += later.broker_ts < earlier.broker_ts
    return violations


class Fairness(NamedTuple):
    unfair_winners: int        # winners who asked later than someone who was sold out
    max_inversion_ms: float    # the largest such gap, in milliseconds (0 when fair)

    @classmethod
    def combine(cls, parts):
        """Several campaigns' fairness: winners added up, the largest gap of any."""
        parts = list(parts)
        return cls(sum(p.unfair_winners for p in parts), max((p.max_inversion_ms for p in parts), default=0.0))


def fairness(events, time_of):
    """Compare winners and sold-out users by `time_of` (received_at: the API's receive time, or
    broker_ts: Kafka's): a first-come system is fair when no winner asked after a loser."""
    sold_out = [time_of(e) for e in events if e.status == "SOLD_OUT"]
    winners = [time_of(e) for e in events if e.status == "SUCCESS"]
    if not sold_out or not winners:
        return Fairness(0, 0.0)
    first_loser = min(sold_out)
    late = [w for w in winners if w > first_loser]
    return Fairness(len(late), (max(late) - first_loser) / 1000 if late else 0.0)


def commit_rate(commit_times_us):
    """Decisions committed per second from the first to the last DB commit. Decisions of one
    batch share their commit time, so the clock starts at the first commit and counts what
    was committed after it; NaN when everything went in one commit."""
    if not commit_times_us:
        return float("nan")
    first, last = min(commit_times_us), max(commit_times_us)
    if last == first:
        return float("nan")
    after_first = sum(1 for t in commit_times_us if t > first)
    return after_first / ((last - first) / 1_000_000)


def percentiles(values, points=(50, 95, 99)):
    """Nearest-rank percentiles."""
    ordered = sorted(values)
    if not ordered:
        return {p: float("nan") for p in points}
    return {p: ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))] for p in points}


def rate_series(times_us, bucket_s=1.0):
    """[(seconds since the first event, events in that bucket / bucket_s)] for charts."""
    if not times_us:
        return []
    start = min(times_us)
    buckets = {}
    for t in times_us:
        index = int((t - start) / 1_000_000 / bucket_s)
        buckets[index] = buckets.get(index, 0) + 1
    return [(i * bucket_s, buckets.get(i, 0) / bucket_s) for i in range(max(buckets) + 1)]

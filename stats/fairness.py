"""A campaign's fairness, from the decision events the statistics consumer stores: did anyone win
while a request received earlier lost, how far decisions strayed from the order requests arrived
in, and the ordering numbers the original's partition experiment defines (stats.ordering), so that
"I clicked first and did not win" has an answer for a real campaign."""
from dataclasses import asdict, dataclass

from stats import ordering


@dataclass(frozen=True)
class FairnessReport:
    events: int
    unfair_winners_by_receipt: int  # winners received after the first request that was sold out
    largest_unfair_gap_ms: float
    unfair_winners_by_broker: int  # the same by Kafka's timestamp (what the decider could see)
    receipt_inversions: int  # decisions made after that of a request received later
    largest_inversion_ms: float
    switch_ratio: float  # the original's: consecutive events by broker time in different partitions
    key_order_violations: int  # the original's: a user's requests decided out of their Kafka order
    receipt_to_decision_p50_ms: float | None
    receipt_to_decision_p99_ms: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def fairness_report(events: list[ordering.DecidedEvent]) -> FairnessReport:
    by_receipt = ordering.fairness(events, lambda e: e.received_at)
    by_broker = ordering.fairness(events, lambda e: e.broker_ts)
    inversions, largest = 0, 0
    latest_received = None
    for event in events:  # decision order
        if latest_received is not None and event.received_at < latest_received:
            inversions += 1
            largest = max(largest, latest_received - event.received_at)
        latest_received = event.received_at if latest_received is None else max(latest_received, event.received_at)
    latencies = ordering.percentiles([(e.decided_at - e.received_at) / 1000 for e in events], points=(50, 99))
    return FairnessReport(
        events=len(events),
        unfair_winners_by_receipt=by_receipt.unfair_winners, largest_unfair_gap_ms=by_receipt.max_inversion_ms,
        unfair_winners_by_broker=by_broker.unfair_winners,
        receipt_inversions=inversions, largest_inversion_ms=largest / 1000,
        switch_ratio=round(ordering.switch_ratio(events), 6),
        key_order_violations=ordering.violation_count(events),
        receipt_to_decision_p50_ms=latencies[50] if events else None,
        receipt_to_decision_p99_ms=latencies[99] if events else None)

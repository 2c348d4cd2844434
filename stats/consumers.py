"""What a batch of decision-event messages means to the stats consumer: store the events raw.

It reads the decisions topic under its own consumer group, so it never slows the decider down:
if it stops, the decider keeps publishing, and when it comes back it resumes from the offsets it
committed (the worker commits them only after the rows are in the database).
"""
from campaigns.coupons import CouponCodeInvalid, coupon_code_read
from campaigns.epoch import is_moment_us
from campaigns.messages import BIGINT_END, DECISION_STATUSES, INT_END, decode_decision_events, request_identity
from campaigns.rows import time_columns
from stats import services
from streaming.worker import BatchConsumerWorker, BatchResult, PoisonMessage

_TIME_FIELDS = time_columns()  # the event carries the row's times, under the same names
MAX_TOPIC_LENGTH = 249


def stored_event(event: dict) -> dict:
    """A decision event from the topic → the values of its raw row (times stay epoch
    microseconds); PoisonMessage naming the first wrong field (the database would silently
    truncate what INSERT IGNORE lets by)."""
    request_id, campaign_id, user_id = request_identity(event, "decision event: ")
    status, topic = event["status"], event["topic"]
    if not isinstance(status, str) or status not in DECISION_STATUSES:
        raise PoisonMessage(f"decision event: status {status!r} is not one of {', '.join(sorted(DECISION_STATUSES))}")
    if not isinstance(topic, str) or len(topic) > MAX_TOPIC_LENGTH:
        raise PoisonMessage("decision event: topic is not a Kafka topic name")
    partition, offset = event["partition"], event["offset"]
    if not (type(partition) is int and 0 <= partition < INT_END and type(offset) is int and 0 <= offset < BIGINT_END):
        raise PoisonMessage("decision event: partition and offset are not a Kafka partition and offset")
    row = {"request_id": request_id, "campaign_id": campaign_id, "user_id": user_id, "status": status,
           "topic": topic, "partition": partition, "offset": offset}
    for name in _TIME_FIELDS:
        value = event[name]
        if not is_moment_us(value):
            raise PoisonMessage(f"decision event: {name} is not epoch microseconds")
        row[f"{name}_us"] = value
    row["coupon_code"] = _coupon_code(event["coupon_code"])  # None when the event predates codes
    return row


def _coupon_code(value):
    """None (not a SUCCESS, or published before codes existed) or a code as the decider writes it."""
    if value is None:
        return None
    try:
        if isinstance(value, str) and coupon_code_read(value) == value:
            return value
    except CouponCodeInvalid:
        pass
    raise PoisonMessage("decision event: coupon_code is not a coupon code")

class StatsConsumer(BatchConsumerWorker):
    name = "consume_stats"

    def decode(self, record):
        """One Kafka message carries a chunk of events; a bad one dead-letters its whole chunk."""
        return [stored_event(event) for event in decode_decision_events(record)]

    def process_batch(self, chunks):
        return BatchResult(value=services.decision_events_store(e for chunk in chunks for e in chunk))

    def merge_values(self, values):
        return sum(values)  # rows stored by each part

"""The participation request as it travels through Kafka.

Value: compact JSON {"request_id", "campaign_id", "user_id", "received_at"} with received_at in
epoch microseconds (the API's receive time, which the fairness metrics compare). The key is the
campaign id or the user id (settings.FIRSTCOME_MESSAGE_KEY).
"""
import uuid
from datetime import datetime
from typing import NamedTuple

import orjson

from campaigns import rows
from campaigns.epoch import from_epoch_us, is_moment_us, to_epoch_us
from identity.users import MAX_USER_ID_LENGTH  # noqa: F401  (re-exported: the wire's limit)
from streaming.errors import PoisonMessage
from streaming.worker import broker_time_ms

MAX_MESSAGE_BYTES = 4096
# Column ranges a value is held to before it is written: MySQL clamps what INSERT IGNORE lets by.
BIGINT_END, INT_END = 2 ** 63, 2 ** 31


class ParticipationRequest(NamedTuple):
    """Immutable; a NamedTuple rather than a frozen dataclass because the consumer builds one per
    record and a frozen dataclass's __init__ costs three times as much. Its times stay in the
    epoch microseconds the message and the broker carry: the row and the decision event are
    written from those, so the consumer makes no datetime per record (docs/benchmarks.md,
    "Consumer on production-shaped topics")."""
    request_id: uuid.UUID
    campaign_id: int
    user_id: str
    received_us: int  # the API's receive time
    # Where the request sat in Kafka; empty for the synchronous baselines, which bypass it.
    topic: str = ""
    partition: int = -1
    offset: int = -1
    broker_us: int | None = None  # the broker's timestamp (Kafka's milliseconds, in microseconds)

    @property
    def received_at(self) -> datetime:
        return from_epoch_us(self.received_us)

    @property
    def broker_timestamp(self) -> datetime | None:
        return None if self.broker_us is None else from_epoch_us(self.broker_us)


def message_key(campaign_id, user_id, key_by):
    return (str(campaign_id) if key_by == "campaign" else user_id).encode()


def encode_participation(request_id, campaign_id, user_id, received_at) -> bytes:
    return orjson.dumps({"request_id": str(request_id), "campaign_id": campaign_id,
                         "user_id": user_id, "received_at": to_epoch_us(received_at)})


def request_identity(data: dict, what=""):
    """(request_id, campaign_id, user_id) of a message about a request (a participation, a
    decision event), or PoisonMessage naming the first wrong one; KeyError for a missing one."""
    try:
        request_id = uuid.UUID(data["request_id"])
    except (TypeError, ValueError, AttributeError):
        raise PoisonMessage(f"{what}request_id is not a UUID") from None
    campaign_id, user_id = data["campaign_id"], data["user_id"]
    if type(campaign_id) is not int or not 0 < campaign_id < BIGINT_END:
        raise PoisonMessage(f"{what}campaign_id is not a positive integer")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID_LENGTH:
        raise PoisonMessage(f"{what}user_id is not a string of 1-{MAX_USER_ID_LENGTH} characters")
    return request_id, campaign_id, user_id


def decode_participation(record) -> ParticipationRequest:
    """ConsumerRecord → ParticipationRequest, or PoisonMessage naming what is wrong."""
    raw = record.value
    if raw is None:
        raise PoisonMessage("empty message")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise PoisonMessage(f"payload too large: {len(raw)} bytes (limit {MAX_MESSAGE_BYTES})")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PoisonMessage("not valid JSON") from None
    if not isinstance(data, dict):
        raise PoisonMessage("not a JSON object")
    try:
        request_id, campaign_id, user_id = request_identity(data)
        received_at = data["received_at"]
    except KeyError as exc:
        raise PoisonMessage(f"missing field {exc.args[0]!r}") from None
    if type(received_at) is not int or received_at <= 0:
        raise PoisonMessage("received_at is not epoch microseconds")
    if not is_moment_us(received_at):
        raise PoisonMessage("received_at is out of range")
    # The producer sets it (CreateTime): refused here, not by the database mid-batch nor by the
    # statistics after the decision. A record without one: the row takes the receipt's.
    broker_ms = broker_time_ms(record)
    broker_us = None if broker_ms is None else broker_ms * 1000
    if broker_us is not None and not is_moment_us(broker_us):
        raise PoisonMessage("broker timestamp is out of range")
    return ParticipationRequest(request_id, campaign_id, user_id, received_at,
                                record.topic, record.partition, record.offset, broker_us)


# --- decision events ------------------------------------------------------------------------
# After its DB commit the first-come consumer publishes one event per decided request to the
# decisions topic (statistics are built from them, off the hot path). Events travel in chunks of
# up to DECISION_EVENTS_PER_MESSAGE per Kafka message, as rows under one field list: one message
# per event would cost the decider a producer send per request, about as much as the decision.
# An event is the decision's participation row (campaigns.rows) in JSON: UUIDs and text as
# strings, times as the row's epoch microseconds.
DECISION_EVENTS_PER_MESSAGE = 1000
DECISION_EVENT_FIELDS = rows.EVENT_COLUMNS
# Fields added since the first events: a message published before them (a decider not yet
# upgraded) is read with them null instead of being refused.
LATER_EVENT_FIELDS = ("coupon_code",)
DECISION_STATUSES = frozenset(rows.Status.values)  # what an event's status may be
_EVENT_VALUE = {rows.UUID: str, rows.TEXT: str, rows.TEXT_OR_NULL: None, rows.INT: int, rows.TIME: None}
_EVENT_ENCODERS = tuple((rows.COLUMNS.index(name), _EVENT_VALUE[rows.KINDS[name]]) for name in DECISION_EVENT_FIELDS)


def decision_event_row(decision) -> list:
    return list(decision_event_rows([decision])[0])


def decision_event_rows(decisions) -> list[tuple]:
    """The decisions' event rows, encoded a column at a time (map() over each column, no Python
    call per value for most of them: the consumer publishes one row per decision)."""
    columns = list(zip(*map(rows.row, decisions)))
    return list(zip(*(columns[i] if encode is None else map(encode, columns[i]) for i, encode in _EVENT_ENCODERS)))


def encode_decision_events(decisions) -> list[bytes]:
    return encode_decision_event_rows(decision_event_rows(decisions))


def encode_decision_event_rows(event_rows) -> list[bytes]:
    """Rows in DECISION_EVENT_FIELDS order → messages of up to DECISION_EVENTS_PER_MESSAGE rows."""
    return [orjson.dumps({"fields": DECISION_EVENT_FIELDS, "rows": event_rows[i:i + DECISION_EVENTS_PER_MESSAGE]})
            for i in range(0, len(event_rows), DECISION_EVENTS_PER_MESSAGE)]


def decode_decision_events(record) -> list[dict]:
    """ConsumerRecord of the decisions topic → its events as dicts; PoisonMessage if it is not one."""
    try:
        message = orjson.loads(record.value)
        fields, event_rows = tuple(message["fields"]), message["rows"]
    except (TypeError, KeyError, orjson.JSONDecodeError):
        raise PoisonMessage("not a decision-events message") from None
    if not all(isinstance(name, str) for name in fields):
        raise PoisonMessage("decision events: fields are not all names")
    missing = set(DECISION_EVENT_FIELDS) - set(fields)
    if not missing <= set(LATER_EVENT_FIELDS):
        raise PoisonMessage("decision events without the expected fields")
    if not isinstance(event_rows, list) or not all(isinstance(r, list) and len(r) == len(fields) for r in event_rows):
        raise PoisonMessage("decision event rows do not match their fields")
    events = [dict(zip(fields, row)) for row in event_rows]
    for name in missing:
        for event in events:
            event[name] = None
    return events

import json
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from types import SimpleNamespace

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns import rows
from campaigns.decision import Decision
from campaigns.messages import decode_participation, encode_participation
from streaming.errors import PoisonMessage


def record(value, offset=7):
    return SimpleNamespace(value=value, topic="t", partition=2, offset=offset, timestamp=1_700_000_000_123, key=None)


def test_round_trip_keeps_ids_times_and_kafka_coordinates():
    request_id, now = uuid.uuid4(), timezone.now()
    decoded = decode_participation(record(encode_participation(request_id, 3, "유저-1", now)))
    assert (decoded.request_id, decoded.campaign_id, decoded.user_id) == (request_id, 3, "유저-1")
    assert decoded.received_at == now  # exact: epoch microseconds both ways
    assert (decoded.topic, decoded.partition, decoded.offset) == ("t", 2, 7)
    assert decoded.broker_timestamp == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt_timezone.utc)


@settings(max_examples=300)
@given(timestamp=st.integers(-2 ** 63, 2 ** 63 - 1), received_at=st.integers(-2 ** 63, 2 ** 63 - 1))
def test_any_broker_timestamp_or_receive_time_decodes_to_storable_times_or_poison(timestamp, received_at):
    """A producer sets the broker timestamp (CreateTime) and the receive time: whatever they are,
    decoding names the record poison or yields times MySQL's DATETIME holds, never a row the
    database refuses in the middle of a batch."""
    message = record(json.dumps({**GOOD, "received_at": received_at}).encode())
    message.timestamp = timestamp
    try:
        decoded = decode_participation(message)
    except PoisonMessage:
        return
    assert 1970 <= decoded.received_at.year <= 2999
    assert decoded.broker_timestamp is None or 1970 <= decoded.broker_timestamp.year <= 2999


GOOD = {"request_id": str(uuid.uuid4()), "campaign_id": 1, "user_id": "u", "received_at": 1_700_000_000_000_000}


@pytest.mark.parametrize("value, reason", [
    (None, "empty message"),
    (b"\xff\xfe not json", "not valid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (json.dumps({**GOOD, "request_id": "nope"}).encode(), "request_id is not a UUID"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "user_id"}).encode(), "missing field 'user_id'"),
    (json.dumps({**GOOD, "campaign_id": "1"}).encode(), "campaign_id is not a positive integer"),
    (json.dumps({**GOOD, "campaign_id": True}).encode(), "campaign_id is not a positive integer"),
    (json.dumps({**GOOD, "user_id": ""}).encode(), "user_id is not a string of 1-64 characters"),
    (json.dumps({**GOOD, "user_id": "x" * 65}).encode(), "user_id is not a string of 1-64 characters"),
    (json.dumps({**GOOD, "received_at": 10 ** 18}).encode(), "received_at is out of range"),
    (json.dumps({**GOOD, "received_at": 10 ** 30}).encode(), "received_at is not epoch microseconds"),
    (b"{" + b" " * 5000 + b"}", "payload too large: 5002 bytes (limit 4096)"),
])
def test_poison_messages_are_named(value, reason):
    with pytest.raises(PoisonMessage) as caught:
        decode_participation(record(value))
    assert caught.value.reason == reason


@pytest.mark.parametrize("timestamp", [-30_610_224_000_001, -2, 0, 32_503_680_000_000, 253_402_300_800_000,
                                       2 ** 63 - 1])
def test_a_broker_timestamp_outside_the_moments_a_message_may_carry_is_named(timestamp):
    message = record(json.dumps(GOOD).encode())
    message.timestamp = timestamp
    with pytest.raises(PoisonMessage) as refused:
        decode_participation(message)
    assert refused.value.reason == "broker timestamp is out of range"


@pytest.mark.parametrize("timestamp", [-1, None])
def test_a_record_without_a_broker_timestamp_takes_its_receipt_time(timestamp):
    """-1 is Kafka's "no timestamp" (kafka-python gives None for the old message format): not a
    moment, not poison."""
    message = record(json.dumps(GOOD).encode())
    message.timestamp = timestamp
    decoded = decode_participation(message)
    row = dict(zip(rows.COLUMNS, rows.row(Decision(decoded, "SOLD_OUT", timezone.now()))))
    assert decoded.broker_us is None and row["broker_timestamp"] == GOOD["received_at"]

import json
import uuid
from types import SimpleNamespace

import pytest
from django.utils import timezone

from campaigns.messages import decode_participation, encode_participation
from streaming.errors import PoisonMessage


def record(value, offset=7):
    return SimpleNamespace(value=value, topic="t", partition=2, offset=offset, timestamp=1_700_000_000_123, key=None)


def test_round_trip_keeps_ids_times_and_kafka_coordinates():
    request_id, now = uuid.uuid4(), timezone.now()
    decoded = decode_participation(record(encode_participation(request_id, 3, "유저-1", now)))
    assert (decoded.request_id, decoded.campaign_id, decoded.user_id) == (request_id, 3, "유저-1")
    assert abs((decoded.received_at - now).total_seconds()) < 1e-5
    assert (decoded.topic, decoded.partition, decoded.offset) == ("t", 2, 7)
    assert decoded.broker_timestamp.timestamp() == pytest.approx(1_700_000_000.123)


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

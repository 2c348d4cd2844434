"""The decision feed each web process reads (campaigns/results_feed.py): whatever a record on the
decisions topic holds, the feed goes on reading, and only events an answer can be made of reach
the caches."""
import uuid
from types import SimpleNamespace

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.answers import ResultCache
from campaigns import results_feed
from campaigns.messages import DECISION_EVENT_FIELDS, decode_decision_events
from campaigns.results_feed import DecisionFeed

GOOD_EVENT = {"request_id": str(uuid.uuid4()), "campaign_id": 3, "user_id": "u", "status": "SUCCESS",
              "topic": "t", "partition": 0, "offset": 1, "broker_timestamp": 1_736_953_200_000_000,
              "received_at": 1_736_953_200_000_000, "decided_at": 1_736_953_200_000_002,
              "coupon_code": None}

GOOD_MESSAGE = orjson.dumps({"fields": DECISION_EVENT_FIELDS, "rows": [[GOOD_EVENT[f] for f in DECISION_EVENT_FIELDS]]})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 63, 2 ** 64 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)
# A message in the feed's format with any value anywhere: the real field list with an extra name
# of any type, or rows of any values.
hostile_messages = st.one_of(
    json_values.map(orjson.dumps),
    st.builds(lambda extra: {"fields": [*DECISION_EVENT_FIELDS, extra], "rows": []}, json_values).map(orjson.dumps),
    st.lists(st.lists(json_values, min_size=len(DECISION_EVENT_FIELDS), max_size=len(DECISION_EVENT_FIELDS)),
             min_size=1, max_size=2).map(lambda rows: orjson.dumps({"fields": DECISION_EVENT_FIELDS, "rows": rows})),
    st.builds(lambda field, value: {**GOOD_EVENT, field: value}, st.sampled_from(DECISION_EVENT_FIELDS), json_values)
    .map(lambda event: orjson.dumps({"fields": DECISION_EVENT_FIELDS,
                                     "rows": [[event[f] for f in DECISION_EVENT_FIELDS]]})),
    st.binary(max_size=20))


def record(offset, value):
    return SimpleNamespace(topic="td", partition=0, offset=offset, value=value)


class OnePoll:
    """The consumer as the feed reads it: one poll with the given records, then nothing."""

    def __init__(self, feed, records):
        self.feed, self.records = feed, records

    def assignment(self):
        return {0}

    def close(self, autocommit=True):
        pass

    def poll(self, timeout_ms):
        if self.records is None:
            self.feed.stop()
            return {}
        records, self.records = self.records, None
        return {"td-0": records}


def feed_of(handed):
    return DecisionFeed(topic="td", bootstrap_servers=None, lookback_messages=0, on_events=handed.extend,
                        on_gap=lambda: None)


@settings(max_examples=300, deadline=None)
@given(value=hostile_messages)
def test_any_record_is_skipped_or_read_and_the_next_one_still_arrives(value):
    handed = []
    feed = feed_of(handed)
    feed._read(OnePoll(feed, [record(0, value), record(1, GOOD_MESSAGE)]))  # raises nothing

    assert handed and handed[-1] == GOOD_EVENT
    cache = ResultCache(size=10)
    for event in handed:  # what the event loop does with them: never raises
        cache.add(event)


def test_the_feed_thread_survives_a_record_whose_field_names_are_not_names():
    """Found by review: a list among the field names raised TypeError, which ended the thread."""
    handed = []
    feed = feed_of(handed)
    bad = orjson.dumps({"fields": [*DECISION_EVENT_FIELDS, ["x"]], "rows": []})
    feed._positioned_consumer = lambda: OnePoll(feed, [record(0, bad), record(1, GOOD_MESSAGE)])
    feed.start()
    feed._thread.join(10)
    assert not feed._thread.is_alive() and handed == [GOOD_EVENT]  # it read on, then stopped as asked


def test_a_decoding_failure_nobody_foresaw_skips_the_record_not_the_feed(monkeypatch):
    """Whatever decoding raises, the record is skipped and the next one read."""
    handed = []
    feed = feed_of(handed)

    def decode(record):
        if record.offset == 0:
            raise RuntimeError("a bug in the decoder")
        return decode_decision_events(record)

    monkeypatch.setattr(results_feed, "decode_decision_events", decode)
    feed._read(OnePoll(feed, [record(0, GOOD_MESSAGE), record(1, GOOD_MESSAGE)]))
    assert handed == [GOOD_EVENT]

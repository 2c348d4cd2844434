"""What the dashboard shows, read cheaply enough to ask every second at any volume.

Every number is a cumulative counter read at one instant (`at`); rates are the difference
between two snapshots divided by the difference of their `at`, computed by the reader. The web
processes thus keep no state, any gunicorn worker can answer, and any number of viewers can watch.

- published / consumed / lag: the participation topic's end offsets and the deciders' committed
  offsets (a metadata probe, then one admin client's handful of requests, whatever the volume);
- decisions: the counters on the campaign row (one primary-key read, see Campaign.sold_out_count);
- CPU: cumulative CPU seconds of the host and of the consumer processes on it;
- redeemed: the campaign's coupons used at the till (the redeemed rows of one index);
- holes: a lagging partition whose committed offset is not readable (a stalled consumer).
"""
import time

from django.conf import settings
from django.utils import timezone
from kafka.errors import KafkaError

from campaigns.selectors import campaign_get, coupons_redeemed, outcome_counters
from monitoring import cpu
from monitoring.holes import hole_probe
from stats.selectors import sold_out_refusals_total
from streaming import topics
from streaming.health import BrokerUnavailable, broker_ping


def monitoring_snapshot(campaign_id) -> dict:
    at = time.time()
    campaign = campaign_get(campaign_id)
    decisions = outcome_counters(campaign)
    return {
        "at": round(at, 3),
        "campaign": {
            "id": campaign.pk, "name": campaign.name, "status": campaign.status_at(timezone.now()),
            "total_stock": campaign.total_stock, "remaining_stock": campaign.remaining_stock,
        },
        "decisions": {**decisions, "total": sum(decisions.values())},
        # Refused at the door once sold out (409, never published): the web processes' flushed
        # counts, up to FIRSTCOME_REFUSALS_FLUSH_S behind.
        "refused_sold_out": sold_out_refusals_total(campaign.pk),
        "redeemed": coupons_redeemed(campaign.pk),
        "stream": stream_progress(settings.FIRSTCOME_TOPIC, settings.FIRSTCOME_GROUP_ID),
        "cpu": {"host": cpu.host_cpu_seconds(), "consumers": cpu.consumer_cpu_seconds()},
    }


def stream_progress(topic, group_id) -> dict:
    """Messages published to the topic, consumed (committed) by the group, and the lag, per
    partition and in total. The topic carries every campaign's requests, so these are
    topic-wide. A broker that does not answer within MONITORING_KAFKA_TIMEOUT_MS is reported as
    an error instead of holding the request."""
    progress = {"topic": topic, "group_id": group_id, "error": None, "published": None,
                "consumed": None, "lag": None, "partitions": []}
    timeout_ms = settings.MONITORING_KAFKA_TIMEOUT_MS
    try:
        # First a plain-socket probe: an admin client started against a dead broker keeps its
        # I/O thread, and the dashboard asks every second.
        broker_ping(settings.KAFKA_BOOTSTRAP_SERVERS, timeout_ms / 1000)
        admin = topics.admin_client(timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
        try:
            ends = topics.end_offsets(topic, admin=admin)
            committed = topics.committed_offsets(group_id, topic, admin=admin)
        finally:
            admin.close()
    except (BrokerUnavailable, KafkaError, OSError) as exc:
        progress["error"] = f"broker unavailable: {exc}"
        return progress
    for partition, end in sorted(ends.items()):
        consumed = committed.get(partition, 0)  # no commit yet: the group starts at the beginning
        # The embedded broker's end offset can trail the last batch the group already committed.
        end = max(end, consumed)
        progress["partitions"].append({"partition": partition, "end_offset": end,
                                       "committed_offset": consumed, "lag": end - consumed})
    for total, key in (("published", "end_offset"), ("consumed", "committed_offset"), ("lag", "lag")):
        progress[total] = sum(p[key] for p in progress["partitions"])
    _add_offset_holes(progress, timeout_ms)
    return progress


def _add_offset_holes(progress, timeout_ms):
    """Each lagging partition's `hole`: None, or the unreadable offset the group's consumer is
    stopped at (stalled: true once it has not filled for the worker's gap patience)."""
    lagging = {p["partition"]: p["committed_offset"] for p in progress["partitions"] if p["lag"]}
    holes = {}
    if lagging:
        try:
            holes = hole_probe.holes(progress["topic"], lagging, bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                                     timeout_ms=timeout_ms)
        except KafkaError as exc:
            progress["error"] = f"offset holes unknown: {exc}"
    for partition in progress["partitions"]:
        partition["hole"] = holes.get(partition["partition"])
    progress["stalled_partitions"] = sorted(p for p, hole in holes.items() if hole["stalled"])

"""Decisions committed per second by consume_firstcome, batch vs per-event, against MariaDB and
the embedded broker, on the same pre-published requests; plus kafka-python's raw poll rate on
the same topic as the ceiling.

    .venv/bin/python -m bench.consumer_throughput [--sizes 10000,100000,1000000] [--per-event-max 100000]
"""
import argparse
import uuid

from bench._harness import empty_tables, peak_rss_mib, print_table, publish_requests, setup_django


def raw_poll_rate(topic, count):
    """kafka-python alone, polling the topic from the start: messages/s from first to last poll."""
    from lab.partition_experiment import probe_kafka_rate

    seen, first, last = probe_kafka_rate(topic, count, timeout_s=600)
    if seen < count:
        raise SystemExit(f"the raw poll saw {seen} of {count} messages within 600 s")
    return seen / (last - first)


def run_consumer(topic, mode, count, stock, max_poll_records):
    from campaigns.models import Participation
    from campaigns.services import campaign_create
    from lab.processes import ManagedProcess, project_env, wait_until

    empty_tables()
    campaign = campaign_create(name=f"bench {mode} {count}", total_stock=stock)
    publish_requests(topic, [campaign.pk], users=count, count=count)
    group = f"bench-{mode}-{uuid.uuid4().hex[:8]}"
    env = project_env(FIRSTCOME_TOPIC=topic, FIRSTCOME_GROUP_ID=group, KAFKA_SESSION_TIMEOUT_MS=6000,
                      FIRSTCOME_DECISIONS_TOPIC=f"{topic}.decisions", KAFKA_MAX_POLL_RECORDS=max_poll_records)
    proc = ManagedProcess.manage("consume_firstcome", "--mode", mode, env=env,
                                 log_path=f"/tmp/bench-{mode}.log").start()
    try:
        wait_until(lambda: Participation.objects.filter(campaign=campaign).count() >= count,
                   timeout=3600, interval=0.5, message=f"{count} decisions")
        peak = peak_rss_mib(proc.pid)
    finally:
        proc.stop()
    from lab.ordering import commit_rate
    from lab.selectors import decided_events

    commits = [e.decided_at for e in decided_events(campaign_id=campaign.pk)]
    return (max(commits) - min(commits)) / 1e6, commit_rate(commits), peak


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--max-poll-records", type=int, default=None, help="default: the setting's")
    parser.add_argument("--per-event-max", type=int, default=100000,
                        help="largest size also run per-event (it is ~20x slower)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    from django.conf import settings

    from lab.embedded import broker_from_environment

    max_poll_records = args.max_poll_records or settings.KAFKA_MAX_POLL_RECORDS

    with broker_from_environment(preferred_port=None):
        rows = []
        for size in sizes:
            results = {}
            for mode in ("per-event", "batch"):
                if mode == "per-event" and size > args.per_event_max:
                    continue
                topic = f"bench.{mode}.{size}.{uuid.uuid4().hex[:6]}"
                seconds, tps, peak = run_consumer(topic, mode, size, size // 2, max_poll_records)
                results[mode] = tps
                raw = raw_poll_rate(topic, size) if mode == "batch" else None
                rows.append([size, mode, f"{seconds:.2f}", f"{tps:,.0f}",
                             f"{results['batch'] / results['per-event']:.1f}x" if mode == "batch" and "per-event" in results else "",
                             f"{raw:,.0f}" if raw else "", f"{tps / raw:.0%}" if raw else "", f"{peak:.0f}"])
                print(f"  done: {size} {mode}: {tps:,.0f}/s", flush=True)
        print()
        print_table(["events", "mode", "seconds", "decisions/s", "batch/per-event", "raw poll/s",
                     "share of raw", "peak RSS MiB"], rows)


if __name__ == "__main__":
    setup_django()
    main()

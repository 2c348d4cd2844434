"""Decisions committed per second by consume_firstcome, batch vs per-event, against MariaDB and
the embedded broker, on the same pre-published requests; plus kafka-python's raw poll rate on
the same topic as the ceiling.

Two shapes of topic (lab.publishing): bulk, large batches from one producer; http, one request at
a time from several processes with a few in flight each, as the web tier's workers write it (many
small producer batches). records/batch is what one database transaction decided on average,
records/poll what one of the decider's polls that returned records held (a batch gathers several
polls while the previous batch holds the database).

    .venv/bin/python -m bench.consumer_throughput [--sizes 10000,100000,1000000] [--shapes bulk,http]
        [--runs 1] [--per-event-max 100000] [--processes 4 --in-flight 4] [--profile DIR]

--profile samples each batch run's decider with py-spy (100 Hz, every thread) into DIR; then
`.venv/bin/python -m bench.profile_summary DIR/decider-<shape>-<size>-<run>.txt --records N`.
"""
import argparse
import signal
import sys
import uuid
from pathlib import Path

from bench._harness import consumer_histograms, empty_tables, peak_rss_mib, print_table, publish_requests, setup_django

# One request per producer batch, one partition: the embedded broker stops answering fetches
# somewhere past 60,000 batches in a partition (bench/broker_batches.py). Apache Kafka has no such limit.
HTTP_SHAPE_MAX = 100_000


def raw_poll_rate(topic, count):
    """kafka-python alone, polling the topic from the start: messages/s from first to last poll."""
    from lab.partition_experiment import probe_kafka_rate

    seen, first, last = probe_kafka_rate(topic, count, timeout_s=600)
    if seen < count:
        raise SystemExit(f"the raw poll saw {seen} of {count} messages within 600 s")
    return seen / (last - first)


def publish(topic, campaign_id, count, shape, processes, in_flight):
    if shape == "bulk":
        return publish_requests(topic, [campaign_id], users=count, count=count)
    from lab.publishing import publish_like_web

    started, acked = publish_like_web(topic=topic, campaign_ids=[campaign_id], users=count, count=count,
                                      key_by="campaign", processes=processes, in_flight=in_flight)
    return acked - started


def per_batch_and_poll(metrics_url, records):
    """(records per batch, records per poll that returned any), from the consumer's Prometheus
    histograms."""
    values = consumer_histograms(metrics_url, records=records)
    return (values[("batch_size", "sum")] / max(values[("batch_size", "count")], 1),
            values[("poll_records", "sum")] / max(values[("poll_records", "count")], 1))


def run_consumer(topic, mode, count, stock, max_poll_records, shape, processes, in_flight, profile=None):
    from campaigns.services import campaign_create
    from lab.deciders import decider_env, running_deciders, wait_until_decided
    from lab.embedded import free_port

    empty_tables()
    campaign = campaign_create(name=f"bench {mode} {count}", total_stock=stock)
    publish(topic, campaign.pk, count, shape, processes, in_flight)
    env = decider_env(topic, f"bench-{mode}-{uuid.uuid4().hex[:8]}", KAFKA_SESSION_TIMEOUT_MS=6000,
                      KAFKA_MAX_POLL_RECORDS=max_poll_records)
    port = free_port()
    with running_deciders(env, log_dir="/tmp", stem=f"bench-{mode}",
                          args=lambda i: ("--mode", mode, "--metrics-port", str(port),
                                          "--metrics-addr", "127.0.0.1")) as (decider,):
        sampler = None
        if profile:  # py-spy samples the decider from outside: the code under test is unchanged
            import shutil
            import subprocess

            spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            sampler = subprocess.Popen([spy, "record", "-p", str(decider.pid), "-r", "100", "-f", "raw",
                                        "-o", str(profile), "--threads"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        wait_until_decided([campaign.pk], count, timeout_s=3600)
        if sampler is not None:
            sampler.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
            sampler.wait(60)
        peak = peak_rss_mib(decider.pid)
        per_batch, per_poll = per_batch_and_poll(f"http://127.0.0.1:{port}/metrics", count)
    from stats.ordering import commit_rate
    from lab.selectors import decided_events

    commits = [e.decided_at for e in decided_events(campaign_id=campaign.pk)]
    return (max(commits) - min(commits)) / 1e6, commit_rate(commits), peak, per_batch, per_poll


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--shapes", default="bulk,http", help="bulk, http or both (comma-separated)")
    parser.add_argument("--runs", type=int, default=1, help="measurements of each size and shape")
    parser.add_argument("--max-poll-records", type=int, default=None, help="default: the setting's")
    parser.add_argument("--per-event-max", type=int, default=100000,
                        help="largest size also run per-event (it is ~20x slower; bulk shape only)")
    parser.add_argument("--processes", type=int, default=4, help="http shape: publishing processes")
    parser.add_argument("--in-flight", type=int, default=4, help="http shape: requests in flight per process")
    parser.add_argument("--profile", type=Path, default=None,
                        help="a directory: sample each batch run's decider with py-spy (requirements-dev) into it; "
                             "bench.profile_summary reads the files")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = [s for s in args.shapes.split(",") if s]
    if set(shapes) - {"bulk", "http"}:
        parser.error("--shapes takes bulk and/or http")
    from django.conf import settings

    from lab.embedded import broker_from_environment

    max_poll_records = args.max_poll_records or settings.KAFKA_MAX_POLL_RECORDS

    with broker_from_environment(preferred_port=None):
        rows, ranges = [], {}
        for size in sizes:
            for shape in shapes:
                if shape == "http" and size > HTTP_SHAPE_MAX:
                    print(f"  skipped: {size:,} http-shaped requests in one partition is past the embedded broker's "
                          f"limit (docs/benchmarks.md, \"The embedded broker's limit\")", flush=True)
                    continue
                for run in range(1, args.runs + 1):
                    results = {}
                    for mode in ("per-event", "batch"):
                        if mode == "per-event" and (size > args.per_event_max or shape != "bulk" or run > 1):
                            continue
                        # Short: the embedded broker reads longer names slowly (settings/embedded_broker.py).
                        topic = f"b.{shape}.{mode[0]}.{uuid.uuid4().hex[:6]}"
                        profile = None
                        if args.profile and mode == "batch":
                            args.profile.mkdir(parents=True, exist_ok=True)
                            profile = args.profile / f"decider-{shape}-{size}-{run}.txt"
                        seconds, tps, peak, per_batch, per_poll = run_consumer(
                            topic, mode, size, size // 2, max_poll_records, shape, args.processes, args.in_flight,
                            profile=profile)
                        results[mode] = tps
                        raw = raw_poll_rate(topic, size) if mode == "batch" else None
                        if mode == "batch":
                            ranges.setdefault((size, shape), []).append(tps)
                        rows.append([size, shape, run, mode, f"{seconds:.2f}", f"{tps:,.0f}",
                                     f"{results['batch'] / results['per-event']:.1f}x" if mode == "batch" and "per-event" in results else "",
                                     f"{per_batch:,.0f}", f"{per_poll:,.0f}", f"{raw:,.0f}" if raw else "",
                                     f"{tps / raw:.0%}" if raw else "", f"{peak:.0f}"])
                        print(f"  done: {size} {shape} #{run} {mode}: {tps:,.0f}/s, {per_batch:,.0f} records/batch, "
                              f"{per_poll:,.0f} records/poll", flush=True)
        print()
        print_table(["events", "shape", "run", "mode", "seconds", "decisions/s", "batch/per-event", "records/batch",
                     "records/poll", "raw poll/s", "share of raw", "peak RSS MiB"], rows)
        print()
        for (size, shape), rates in ranges.items():
            print(f"batch, {size:,} events, {shape}: {len(rates)} run(s), {min(rates):,.0f}-{max(rates):,.0f} decisions/s")


if __name__ == "__main__":
    setup_django()
    main()

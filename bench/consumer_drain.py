"""Where a decider's time goes on one web-shaped backlog, and how two checkouts compare on it.

One backlog of --count requests is published once the way the web tier writes it (several
processes, one request per producer batch: lab.publishing.publish_like_web) to one partition, then
drained --runs times per checkout by consume_firstcome, each time with a fresh group, an empty
participation table and the full stock, alternating between the --checkouts so that both meet the
same machine. Per run: decisions/s (first to last commit), records per transaction, CPU per
decision of the decider, MariaDB and the embedded broker from the first commit to the last, and
how busy the decider's database stage was (its transactions' seconds over the drain's). The
summary gives each checkout's range and median and its median's ratio to the first checkout's.

    .venv/bin/python -m bench.consumer_drain [--count 100000] [--runs 3] [--checkouts /other/checkout,.]

A checkout is a directory with this project's manage.py, run with this interpreter (compare two
commits: `git worktree add /tmp/before HEAD~1`).
"""
import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

from bench._harness import consumer_histograms, empty_tables, print_table, setup_django


def mariadb_process():
    """MariaDB's process when it runs on this machine and its pid file is readable, else None."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT @@pid_file")
        (pid_file,) = cursor.fetchone()
    try:
        return psutil.Process(int(Path(pid_file).read_text()))
    except (OSError, ValueError, psutil.Error):
        return None


def cpu_seconds(process):
    if process is None:
        return float("nan")
    times = process.cpu_times()
    return times.user + times.system


def drain(*, checkout, topic, campaign_id, count, stock, others):
    """One drain by the checkout's decider: its measures as a dict."""
    import psutil
    from django.db import connection

    from campaigns.models import Campaign, Participation
    from lab.deciders import decider_env, wait_until_decided
    from lab.embedded import free_port
    from stats.ordering import commit_rate
    from lab.processes import ManagedProcess, wait_until
    from lab.selectors import decided_events

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE TABLE participation")
    Campaign.objects.for_decision().filter(pk=campaign_id).update(remaining_stock=stock, sold_out_count=0,
                                                                 duplicate_count=0)
    port = free_port()
    env = decider_env(topic, f"drain-{uuid.uuid4().hex[:8]}", KAFKA_SESSION_TIMEOUT_MS=6000)
    decider = ManagedProcess([sys.executable, str(Path(checkout) / "manage.py"), "consume_firstcome",
                              "--metrics-port", str(port), "--metrics-addr", "127.0.0.1"],
                             env=env, name="decider", log_path=f"/tmp/bench-drain-{Path(checkout).resolve().name}.log")
    decider.start()
    try:
        me = psutil.Process(decider.pid)
        # From the first commit on: the group join is not the decider's work.
        wait_until(lambda: Participation.objects.filter(campaign_id=campaign_id).exists(), timeout=120,
                   interval=0.02, message="the first decision")
        before = [cpu_seconds(p) for p in (me, *others)]
        wait_until_decided([campaign_id], count, timeout_s=1200)
        after = [cpu_seconds(p) for p in (me, *others)]
        metrics = consumer_histograms(f"http://127.0.0.1:{port}/metrics", records=count)
    finally:
        decider.stop()
    commits = [e.decided_at for e in decided_events(campaign_id=campaign_id)]
    seconds = (max(commits) - min(commits)) / 1e6
    cpu_us = [(b - a) / count * 1e6 for a, b in zip(before, after)]
    return {"rate": commit_rate(commits), "seconds": seconds,
            "per_batch": metrics[("batch_size", "sum")] / max(metrics[("batch_size", "count")], 1),
            "db_busy": metrics[("db_commit_seconds", "sum")] / seconds if seconds else float("nan"),
            "cpu_us": cpu_us}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="requests in the backlog (at most ~100,000 on "
                        "the embedded broker: docs/benchmarks.md, \"The embedded broker's limit\")")
    parser.add_argument("--runs", type=int, default=3, help="drains per checkout")
    parser.add_argument("--checkouts", default=".", help="comma-separated project directories; the first is the baseline")
    args = parser.parse_args()
    checkouts = [str(Path(c).resolve()) for c in args.checkouts.split(",")]
    for checkout in checkouts:
        if not (Path(checkout) / "manage.py").exists():
            parser.error(f"{checkout} has no manage.py")

    from django.conf import settings

    from campaigns.services import campaign_create
    from lab.embedded import EmbeddedBroker
    from lab.publishing import publish_like_web

    with EmbeddedBroker() as broker:
        settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
        import psutil

        others = (mariadb_process(), psutil.Process(broker.process.pid))
        empty_tables()
        stock = args.count // 2
        campaign = campaign_create(name="drain", total_stock=stock)
        topic = f"b.drain.{uuid.uuid4().hex[:6]}"  # short: see settings/embedded_broker.py
        started = time.monotonic()
        publish_like_web(topic=topic, campaign_ids=[campaign.pk], users=args.count, count=args.count,
                         key_by="campaign", processes=4, in_flight=4)
        print(f"  published {args.count:,} requests through 4 processes in {time.monotonic() - started:.1f} s", flush=True)
        rows, rates = [], {c: [] for c in checkouts}
        for run in range(args.runs):
            for checkout in checkouts:
                m = drain(checkout=checkout, topic=topic, campaign_id=campaign.pk, count=args.count, stock=stock,
                          others=others)
                rates[checkout].append(m["rate"])
                rows.append([Path(checkout).name, run + 1, f"{m['rate']:,.0f}", f"{m['seconds']:.2f}",
                             f"{m['per_batch']:,.0f}", f"{m['db_busy']:.0%}",
                             *(f"{us:.0f}" for us in m["cpu_us"]), f"{sum(m['cpu_us']):.0f}"])
                print(f"  done: {rows[-1]}", flush=True)
    print()
    print_table(["checkout", "run", "decisions/s", "seconds", "records/transaction", "DB stage busy",
                 "decider CPU µs/decision", "MariaDB", "broker", "all three"], rows)
    print()
    baseline = statistics.median(rates[checkouts[0]])
    for checkout, values in rates.items():
        median = statistics.median(values)
        print(f"{checkout}: {len(values)} runs, {min(values):,.0f}-{max(values):,.0f} decisions/s, "
              f"median {median:,.0f} ({median / baseline:.2f}x the first)")


if __name__ == "__main__":
    setup_django()
    main()

"""Benchmark: the daily statistics batch over 1,000,000 raw decision events on MariaDB.

    .venv/bin/python -m bench.stats_batch [--events 1000000] [--campaigns 10]

1. Stores the events the way consume_stats does (its decode + one INSERT IGNORE per 20 messages
   of 1,000 events), plus 10% more on the neighbouring days, which the batch must leave out.
2. Aggregates the day twice with run_stats_batch's code (one GROUP BY in SQL, one transaction
   per campaign; the second run takes the ON DUPLICATE KEY UPDATE path), and once the naive way,
   as the baseline: every row of the day loaded into Python and counted there.
3. Prints time and peak memory of each. Every aggregation runs in a process of its own, so its
   peak resident memory (VmHWM) is its own; "grew" is that peak minus the process's peak after
   start-up.

Uses a database of its own: DATABASE_URL, default mysql://root@127.0.0.1:3306/firstcome_bench_stats.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

# Before _harness sets its default: this benchmark has a database of its own.
os.environ.setdefault("DATABASE_URL", "mysql://root@127.0.0.1:3306/firstcome_bench_stats")

from bench._harness import peak_rss_mib, print_table, setup_django  # noqa: E402

DAY = date(2025, 1, 15)
REPO_ROOT = Path(__file__).resolve().parent.parent  # where `-m bench.stats_batch` resolves


# --- 1. data --------------------------------------------------------------------------------

def load(events, campaigns):
    """Fresh tables, `events` on DAY over the campaigns (one hot campaign takes half), 5% more on
    each neighbouring day. Returns (events stored, seconds)."""
    from django.conf import settings
    from django.db import connection, transaction

    from campaigns.messages import DECISION_EVENTS_PER_MESSAGE, encode_decision_event_rows, to_epoch_us
    from campaigns.models import Campaign
    from stats.consumers import StatsConsumer
    from stats.days import day_bounds

    with connection.cursor() as cursor:
        for table in ("campaign_stats", "stats_batch_run_failure", "stats_batch_run", "decision_event"):
            cursor.execute(f"DELETE FROM {table}")
    Campaign.objects.filter(name__startswith="bench ").delete()
    ids = [Campaign.objects.create(name=f"bench {i}", total_stock=1000, remaining_stock=0).pk
           for i in range(campaigns)]

    def day_events(day, count):
        start, end = (to_epoch_us(bound) for bound in day_bounds(day))
        step = (end - start) // count
        for i in range(count):
            campaign_id = ids[0] if i % 2 else ids[i // 2 % len(ids)]
            status = "SUCCESS" if i % 97 == 0 else "DUPLICATE" if i % 13 == 0 else "SOLD_OUT"
            at = start + i * step
            # A row of DECISION_EVENT_FIELDS, as the first-come consumer publishes it.
            yield [str(uuid.uuid4()), campaign_id, f"user-{i}", status, "firstcome.participations", 0, i,
                   at + 300, at, at + 2000, None]  # no coupon code: the batch does not read it

    def messages():
        for day, count in ((DAY - timedelta(days=1), events // 20), (DAY, events), (DAY + timedelta(days=1), events // 20)):
            chunk = []
            for row in day_events(day, count):
                chunk.append(row)
                if len(chunk) == DECISION_EVENTS_PER_MESSAGE:
                    yield from encode_decision_event_rows(chunk)
                    chunk = []
            yield from encode_decision_event_rows(chunk)

    consumer = StatsConsumer(topic="bench", group_id="bench")
    stored, batch, seconds = 0, [], 0.0

    def flush():  # timed: what consume_stats does with one poll (making the messages is not)
        nonlocal stored, seconds
        started = time.perf_counter()
        with transaction.atomic():
            stored += consumer.process_batch([consumer.decode(record) for record in batch]).value
        seconds += time.perf_counter() - started
        batch.clear()

    for value in messages():
        batch.append(SimpleNamespace(value=value))
        if len(batch) == settings.STATS_MAX_POLL_RECORDS:
            flush()
    if batch:
        flush()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE decision_event")
        cursor.fetchall()
    return stored, seconds


# --- 2. the aggregations (each in its own process) --------------------------------------------

def aggregate_sql():
    """run_stats_batch's code: GROUP BY per campaign in the database, upserted."""
    from stats import services

    run = services.stats_batch_run(date_from=DAY, date_to=DAY)
    assert run.status == "COMPLETED", run.message
    return run.rows_read


def aggregate_python():
    """The baseline: every row of the day into Python, counted there, written the same way."""
    from django.db import transaction
    from django.utils import timezone

    from campaigns.messages import from_epoch_us, to_epoch_us
    from stats.days import day_bounds
    from stats.models import CampaignStats, DecisionEvent

    start, end = (to_epoch_us(bound) for bound in day_bounds(DAY))
    rows = list(DecisionEvent.objects.filter(received_at_us__gte=start, received_at_us__lt=end)
                .values_list("campaign_id", "status", "received_at_us"))
    counts, first, last = Counter(), {}, {}
    for campaign_id, status, received in rows:
        counts[campaign_id, status] += 1
        first[campaign_id] = min(first.get(campaign_id, received), received)
        last[campaign_id] = max(last.get(campaign_id, received), received)
    now = timezone.now()
    with transaction.atomic():
        CampaignStats.objects.bulk_create(
            [CampaignStats(campaign_id=c, stats_date=DAY, success_count=counts[c, "SUCCESS"],
                           sold_out_count=counts[c, "SOLD_OUT"], duplicate_count=counts[c, "DUPLICATE"],
                           first_received_at=from_epoch_us(first[c]), last_received_at=from_epoch_us(last[c]),
                           aggregated_at=now) for c in first],
            update_conflicts=True, update_fields=["success_count", "sold_out_count", "duplicate_count",
                                                  "first_received_at", "last_received_at", "aggregated_at"])
    return len(rows)


APPROACHES = {"sql": aggregate_sql, "python": aggregate_python}


def measure(approach):
    setup_django(migrate=False)
    from django.db import connection

    connection.ensure_connection()
    at_start = peak_rss_mib(os.getpid())
    started = time.perf_counter()
    events = APPROACHES[approach]()
    seconds = time.perf_counter() - started
    peak = peak_rss_mib(os.getpid())
    print(json.dumps({"events": events, "seconds": seconds, "peak_mib": peak, "grew_mib": peak - at_start}))


REPEATS = 3


def warm_up():
    """Read the day once, untimed, so that no measurement pays for a cold buffer pool (the load
    has just pushed the index out of MariaDB's default 128 MiB)."""
    from campaigns.messages import to_epoch_us
    from stats import selectors
    from stats.days import day_bounds

    selectors.day_counts_by_campaign(DAY, *(to_epoch_us(bound) for bound in day_bounds(DAY)))


def median_of(repeats, approach):
    results = sorted((in_own_process(approach) for _ in range(repeats)), key=lambda r: r["seconds"])
    return results[len(results) // 2]


def in_own_process(approach):
    out = subprocess.run([sys.executable, "-m", "bench.stats_batch", "--measure", approach],
                         capture_output=True, text=True, check=True, env=os.environ, cwd=REPO_ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table_snapshot():
    from stats.models import CampaignStats

    return sorted(CampaignStats.objects.filter(stats_date=DAY).values_list(
        "campaign_id", "success_count", "sold_out_count", "duplicate_count", "first_received_at", "last_received_at"))


def query_plan():
    """EXPLAIN of the batch's query for the day (the one in stats.selectors.day_counts_by_campaign)."""
    from django.db import connection
    from django.db.models import Count, Max, Min

    from campaigns.messages import to_epoch_us
    from stats.days import day_bounds
    from stats.models import DecisionEvent

    start, end = (to_epoch_us(bound) for bound in day_bounds(DAY))
    query = (DecisionEvent.objects.filter(received_at_us__gte=start, received_at_us__lt=end)
             .values_list("campaign_id", "status")
             .annotate(n=Count("*"), first=Min("received_at_us"), last=Max("received_at_us")).order_by())
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        columns = [c[0] for c in cursor.description]
        row = cursor.fetchone()
    return ", ".join(f"{name}={row[columns.index(name)]}" for name in ("type", "key", "rows", "Extra"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="raw events on the aggregated day")
    parser.add_argument("--campaigns", type=int, default=10)
    parser.add_argument("--measure", choices=sorted(APPROACHES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure)
    if args.events < 1 or args.campaigns < 1:
        parser.error("--events and --campaigns must be positive")

    setup_django(migrate=True)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"database: {os.environ['DATABASE_URL']}; aggregating {DAY} (Asia/Seoul) out of "
          f"{args.events:,} events on that day and {2 * (args.events // 20):,} on the days around it")
    from django.conf import settings

    from campaigns import messages

    stored, load_seconds = load(args.events, args.campaigns)
    print(f"stored through consume_stats' decode + decision_events_store: {stored:,} events in "
          f"{load_seconds:.1f} s = {stored / load_seconds:,.0f} events/s "
          f"({settings.STATS_MAX_POLL_RECORDS} messages of {messages.DECISION_EVENTS_PER_MESSAGE:,} events per transaction)\n")

    warm_up()
    sql_first = in_own_process("sql")
    sql_table = table_snapshot()
    sql_again = median_of(REPEATS, "sql")
    python = median_of(REPEATS, "python")
    assert table_snapshot() == sql_table, "the baseline and the batch disagree"
    assert sql_first["events"] == sql_again["events"] == python["events"] == args.events

    rows = []
    for name, result in (("run_stats_batch: GROUP BY in SQL, first run", sql_first),
                         (f"  again, ON DUPLICATE KEY UPDATE (median of {REPEATS})", sql_again),
                         (f"baseline: rows into Python (median of {REPEATS})", python)):
        rows.append((name, f"{result['events']:,}", f"{result['seconds']:.2f}",
                     f"{result['events'] / result['seconds']:,.0f}", f"{result['peak_mib']:.0f}",
                     f"{result['grew_mib']:+.1f}"))
    print_table(("aggregation", "events", "seconds", "events/s", "peak RSS MiB", "grew MiB"), rows)
    print(f"\nrun_stats_batch vs baseline: {python['seconds'] / sql_again['seconds']:.1f}x faster, "
          f"{max(python['grew_mib'], 0.1) / max(sql_again['grew_mib'], 0.1):.0f}x less memory growth; "
          f"both wrote the same {len(sql_table)} campaign_stats rows")
    print(f"plan of the day's GROUP BY: {query_plan()}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

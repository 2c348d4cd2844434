"""How long one dashboard snapshot takes as a campaign grows to 1,000,000 decisions.

    DATABASE_URL=mysql://root@127.0.0.1:3306/firstcome .venv/bin/python -m bench.monitoring_snapshot

Creates its own database (<name>_bench_snapshot on the DATABASE_URL server, dropped at the end),
fills one campaign with decided requests (MariaDB's SEQUENCE engine writes them in seconds) and
times, at each size:
  - snapshot endpoint: GET /api/monitoring/snapshot as staff (DRF, JSON, the broker, CPU),
  - snapshot, DB part: the campaign row and its outcome counters (what grows with the data, if any),
  - baseline: counting the campaign's rows per status over the (campaign, status) index, the
    query the counters replace.
The embedded broker (Tansu) serves a topic with 3 partitions and a committed consumer group.
"""
import argparse
import os
import statistics
import sys
import time
from urllib.parse import urlsplit, urlunsplit


def bench_database_url():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("mysql://"):
        sys.exit("bench: set DATABASE_URL=mysql://user@host:port/name (MariaDB: the SEQUENCE engine fills the table)")
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'firstcome'}_bench_snapshot"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def server_sql(statement):
    import MySQLdb

    parts = urlsplit(os.environ["DATABASE_URL"])
    connection = MySQLdb.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                                 user=parts.username or "root", password=parts.password or "")
    try:
        connection.cursor().execute(statement)
    finally:
        connection.close()


def timed(fn, runs):
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def fill(campaign, start, stop, stock):
    """Decided requests start+1..stop for the campaign: the first `stock` users win, every tenth
    request after that is a repeat (DUPLICATE), the rest SOLD_OUT; counters kept in step."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO participation (request_id, campaign_id, user_id, status, is_decision, topic,
                       `partition`, `offset`, broker_timestamp, received_at, decided_at)
                SELECT UUID(), %s, CONCAT('user-', seq),
                       CASE WHEN seq <= %s THEN 'SUCCESS' WHEN MOD(seq, 10) = 0 THEN 'DUPLICATE' ELSE 'SOLD_OUT' END,
                       CASE WHEN seq <= %s OR MOD(seq, 10) <> 0 THEN 1 END,
                       'bench', 0, seq, NOW(6), NOW(6), NOW(6)
                  FROM seq_{start + 1}_to_{stop}""", [campaign.pk, stock, stock])
        cursor.execute(
            """UPDATE campaign c SET
                 remaining_stock = c.total_stock - (SELECT COUNT(*) FROM participation p WHERE p.campaign_id = c.id AND p.status = 'SUCCESS'),
                 sold_out_count = (SELECT COUNT(*) FROM participation p WHERE p.campaign_id = c.id AND p.status = 'SOLD_OUT'),
                 duplicate_count = (SELECT COUNT(*) FROM participation p WHERE p.campaign_id = c.id AND p.status = 'DUPLICATE')
               WHERE c.id = %s""", [campaign.pk])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="decisions at each measurement")
    parser.add_argument("--runs", type=int, default=50, help="timed snapshots per size")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    url, name = bench_database_url()
    server_sql(f"DROP DATABASE IF EXISTS `{name}`")
    server_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="campaign_site.settings.local", LOG_LEVEL="WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from kafka import KafkaConsumer, KafkaProducer

    from campaigns import selectors, services
    from lab.embedded import EmbeddedBroker
    from streaming.topics import ensure_topics

    broker = EmbeddedBroker().start()
    try:
        settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
        call_command("migrate", verbosity=0)
        ensure_topics({settings.FIRSTCOME_TOPIC: 3})
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=5)
        for i in range(3000):
            producer.send(settings.FIRSTCOME_TOPIC, b"{}", key=str(i).encode())
        producer.close()
        consumer = KafkaConsumer(settings.FIRSTCOME_TOPIC, bootstrap_servers=broker.bootstrap_servers,
                                 group_id=settings.FIRSTCOME_GROUP_ID, auto_offset_reset="earliest",
                                 enable_auto_commit=False, session_timeout_ms=6000)
        taken = 0
        while taken < 2000:
            taken += sum(len(batch) for batch in consumer.poll(timeout_ms=500).values())
        consumer.commit()
        consumer.close()

        campaign = services.campaign_create(name="bench", total_stock=1000)
        client = Client()
        client.force_login(User.objects.create_user("bench", password="bench", is_staff=True))
        snapshot_url = f"/api/monitoring/snapshot?campaign_id={campaign.pk}"
        assert client.get(snapshot_url).json()["stream"]["error"] is None

        def db_part():
            selectors.outcome_counters(selectors.campaign_get(campaign.pk))

        rows = []
        filled = 0
        for size in sizes:
            fill(campaign, filled, size, stock=campaign.total_stock)
            filled = size
            campaign.refresh_from_db()
            assert selectors.outcome_counters(campaign) == selectors.outcome_counts(campaign.pk)
            endpoint = timed(lambda: client.get(snapshot_url), args.runs)
            db = timed(db_part, args.runs)
            baseline = timed(lambda: selectors.outcome_counts(campaign.pk), max(5, args.runs // 10))
            rows.append((size, endpoint, db, baseline))

        print(f"\nOne snapshot of a campaign with N decisions (MariaDB {server_version()}, median / p95 ms):\n")
        print(f"{'decisions':>10}  {'snapshot endpoint':>18}  {'snapshot DB part':>17}  {'baseline: count rows':>21}  {'baseline / DB part':>18}")
        for size, endpoint, db, baseline in rows:
            print(f"{size:>10,}  {endpoint[0]:>8.2f} / {endpoint[1]:>6.2f}  {db[0]:>7.2f} / {db[1]:>6.2f}  "
                  f"{baseline[0]:>10.2f} / {baseline[1]:>7.2f}  {baseline[0] / db[0]:>17.0f}x")
        first, last = rows[0], rows[-1]
        print(f"\nsnapshot endpoint at {last[0]:,} vs {first[0]:,} decisions: {last[1][0] / first[1][0]:.2f}x "
              f"(row count baseline: {last[3][0] / first[3][0]:.0f}x)")
    finally:
        broker.stop()
        if not args.keep:
            server_sql(f"DROP DATABASE IF EXISTS `{name}`")


def server_version():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        return cursor.fetchone()[0].split("-")[0]


if __name__ == "__main__":
    main()

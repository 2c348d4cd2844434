"""Shared set-up for the benchmarks: Django on a MariaDB database of their own, an embedded
broker, requests pre-published straight to Kafka, and consumer processes measured from outside."""
import os
from pathlib import Path

# DEBUG off (the local settings keep every query in memory); the database from DATABASE_URL.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campaign_site.settings.test")
os.environ.setdefault("DATABASE_URL", "mysql://root@127.0.0.1:3306/firstcome_bench")


def setup_django(migrate=True):
    """Django on DATABASE_URL; with migrate, the database is created if needed and migrated (a
    measuring child process passes False, so that its memory is only what it measures)."""
    import django
    import MySQLdb

    # A quiet benchmark process, set here rather than at import (a test that imports a benchmark
    # must not turn its own children's logs down). The children it measures (web, consumers) log
    # at the production level, their decision lines included, unless the caller sets LOG_LEVEL.
    given = os.environ.get("LOG_LEVEL")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    url = os.environ["DATABASE_URL"]
    if migrate and url.startswith("mysql://"):
        name = url.rsplit("/", 1)[1]
        conn = MySQLdb.connect(host="127.0.0.1", user="root")
        conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        conn.close()
    django.setup()
    if given is None:
        del os.environ["LOG_LEVEL"]
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def empty_tables():
    """Each measurement starts from empty tables, so sizes are comparable."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table in ("participation", "campaign"):
            cursor.execute(f"TRUNCATE TABLE {table}")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def peak_rss_mib(pid):
    """Peak resident memory of a live process (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def publish_requests(topic, campaign_ids, users, count, *, key_by="campaign"):
    """Publish `count` participation requests as the API would (lab.publishing); return publish seconds."""
    from lab.publishing import publish_burst

    started, acked = publish_burst(topic=topic, campaign_ids=campaign_ids, users=users, count=count, key_by=key_by)
    return acked - started


def consumer_histograms(metrics_url, *, records: int) -> dict:
    """{(histogram, "sum" or "count"): value} of a consumer's Prometheus batch histograms
    (batch_size, batch_seconds, db_commit_seconds), once they count `records` records: a batch is
    counted after its offsets are committed, a moment after its rows are visible."""
    import re
    import urllib.request

    from lab.processes import wait_until

    def read():
        text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
        values = {(name, kind): float(value) for name, kind, value in
                  re.findall(r"^firstcome_consumer_(\w+?)_(sum|count)\{[^}]*\} (\S+)$", text, re.M)}
        return values if values.get(("batch_size", "sum"), 0) >= records else None

    return wait_until(read, timeout=30, interval=0.05, message=f"the consumer's metrics to count {records} records")


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).rjust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(v).rjust(w) for v, w in zip(r, widths)))

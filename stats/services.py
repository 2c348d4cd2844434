"""Writes of the statistics: the raw decision events, and the daily batch that aggregates them.

The batch is Spring Batch's shape in a few functions: a run is recorded before it starts (the job
repository); each day is read with one GROUP BY campaign, status in SQL (the reader); each
campaign's row is written in its own transaction (REQUIRES_NEW: a failing campaign rolls back
alone and is recorded, the others commit) with INSERT … ON DUPLICATE KEY UPDATE on
(campaign, stats_date), so running a day again replaces its rows instead of adding to them.
"""
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Callable, Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models.constants import OnConflict
from django.utils import timezone

from campaigns.errors import BatchRunInProgress
from campaigns.messages import from_epoch_us, to_epoch_us
from campaigns.models import Participation
from campaigns.rows import EVENT_COLUMNS, time_columns
from stats import selectors
from stats.days import day_bounds, days_between
from stats.models import BatchRun, BatchRunFailure, CampaignStats, DecisionEvent, SoldOutRefusals

JOB_NAME = "run_stats_batch"
Status = Participation.Status

# The decision event's columns (campaigns.rows), its times kept as epoch microseconds, and when
# it was stored.
_EVENT_COLUMNS = (*(f"{c}_us" if c in time_columns() else c for c in EVENT_COLUMNS), "stored_at")
_passed_through = itemgetter(*_EVENT_COLUMNS[1:-1])  # all but request_id (adapted) and stored_at


def decision_events_store(events: Iterable[dict]) -> int:
    """Store decision events raw; an event whose request id is already stored (a redelivered
    message) is skipped. Returns how many rows were new.

    A multi-row INSERT IGNORE (INSERT OR IGNORE on SQLite; mysqlclient folds executemany into
    multi-row statements): building ORM objects would cost more than the database does at tens
    of thousands of events a second. IGNORE would also swallow a too-long value, so the
    consumer validates every field before it gets here.
    """
    db = transaction.get_connection()  # the connection itself, not the per-call proxy
    uuid_prep = DecisionEvent._meta.get_field("request_id").get_db_prep_value
    stored_at = db.ops.adapt_datetimefield_value(timezone.now())
    rows = [(uuid_prep(e["request_id"], db), *_passed_through(e), stored_at) for e in events]
    if not rows:
        return 0
    ops = db.ops
    sql = (f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} "
           f"{ops.quote_name(DecisionEvent._meta.db_table)} "
           f"({', '.join(ops.quote_name(c) for c in _EVENT_COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * len(_EVENT_COLUMNS))})")
    with db.cursor() as cursor:
        cursor.executemany(sql, rows)
        return cursor.rowcount


# --- the daily batch ----------------------------------------------------------------------

@dataclass(frozen=True)
class StepResult:
    """One campaign-day of a run: the row written, or the error that rolled it back."""
    day: date
    campaign_id: int
    stats: CampaignStats | None = None
    error: str | None = None


_COUNT_FIELDS = {Status.SUCCESS: "success_count", Status.SOLD_OUT: "sold_out_count",
                 Status.DUPLICATE: "duplicate_count"}
_UPDATE_FIELDS = [*_COUNT_FIELDS.values(), "redeemed_count", "first_received_at", "last_received_at", "aggregated_at",
                  "batch_run"]


def campaign_stats_upsert(run: BatchRun, campaign_id: int, day: date, counts: dict, *,
                          redeemed: int = 0) -> CampaignStats:
    """Write one campaign's counts for `day` ({status: (n, first_us, last_us)}) and its coupons
    redeemed that day, in a transaction of its own (Spring Batch's REQUIRES_NEW; a savepoint when
    the caller already holds one)."""
    first = min((first for _, first, _ in counts.values()), default=None)
    last = max((last for _, _, last in counts.values()), default=None)
    row = CampaignStats(
        campaign_id=campaign_id, stats_date=day,
        **{field: counts.get(status, (0,))[0] for status, field in _COUNT_FIELDS.items()}, redeemed_count=redeemed,
        first_received_at=None if first is None else from_epoch_us(first),
        last_received_at=None if last is None else from_epoch_us(last),
        aggregated_at=timezone.now(), batch_run=run,
    )
    # MySQL/MariaDB: INSERT … ON DUPLICATE KEY UPDATE (the conflict target is implied by the
    # unique key); SQLite/PostgreSQL: ON CONFLICT (campaign_id, stats_date) DO UPDATE.
    with_target = connection.features.supports_update_conflicts_with_target
    with transaction.atomic():
        CampaignStats.objects.bulk_create(
            [row], update_conflicts=True, update_fields=_UPDATE_FIELDS,
            unique_fields=["campaign", "stats_date"] if with_target else None)
    return row


def stats_batch_run(*, date_from: date, date_to: date,
                    on_step: Callable[[StepResult], None] | None = None) -> BatchRun:
    """Record a run for [date_from, date_to] and execute it."""
    return stats_batch_execute(stats_batch_start(date_from=date_from, date_to=date_to), on_step=on_step)


def stats_batch_start(*, date_from: date, date_to: date) -> BatchRun:
    """Record a new run (STARTED) for the days [date_from, date_to] in TIME_ZONE; its message
    says which of those days earlier runs already aggregated."""
    if date_from > date_to:
        raise ValueError(f"the first day {date_from} is after the last day {date_to}")
    previous = selectors.latest_run_per_day(JOB_NAME, date_from, date_to)
    return BatchRun.objects.create(job_name=JOB_NAME, date_from=date_from, date_to=date_to,
                                   time_zone=settings.TIME_ZONE, started_at=timezone.now(),
                                   message=_reaggregation_note(previous))


def stats_batch_execute(run: BatchRun, *, on_step: Callable[[StepResult], None] | None = None) -> BatchRun:
    """Aggregate the events of each day of the run per campaign (one GROUP BY per day, in SQL)
    and write each campaign's row in its own transaction.

    A campaign-day that fails is rolled back, recorded in the run's failures, and the run goes
    on: the run ends COMPLETED, PARTIAL (some failed) or FAILED (all failed, or the run itself
    could not go on, in which case the error is raised after it is recorded).
    """
    steps = failed = 0
    try:
        for day in days_between(run.date_from, run.date_to):
            bounds = day_bounds(day, run.time_zone)
            start, end = (to_epoch_us(bound) for bound in bounds)
            by_campaign = selectors.day_counts_by_campaign(day, start, end)
            redeemed = selectors.redemptions_by_campaign(*bounds)
            for campaign_id in sorted(by_campaign.keys() | redeemed.keys()):
                counts = by_campaign.get(campaign_id, {})
                steps += 1
                run.rows_read += sum(n for n, _, _ in counts.values())
                result = _step(run, campaign_id, day, counts, redeemed.get(campaign_id, 0))
                if result.error:
                    failed += 1
                else:
                    run.rows_written += 1
                if on_step:
                    on_step(result)
    except Exception as exc:
        run.status = BatchRun.Status.FAILED
        run.message = "\n".join(filter(None, [run.message, f"stopped: {_one_line(exc)}"]))
        run.finished_at = timezone.now()
        run.save()
        raise
    if not failed:
        run.status = BatchRun.Status.COMPLETED
    else:
        run.status = BatchRun.Status.FAILED if failed == steps else BatchRun.Status.PARTIAL
    run.finished_at = timezone.now()
    run.save()
    return run


def _step(run, campaign_id, day, counts, redeemed) -> StepResult:
    try:
        return StepResult(day, campaign_id,
                          stats=campaign_stats_upsert(run, campaign_id, day, counts, redeemed=redeemed))
    except Exception as exc:
        error = _one_line(exc)
        BatchRunFailure.objects.create(run=run, campaign_id=campaign_id, stats_date=day, error=error[:500],
                                       traceback=traceback.format_exc())
        return StepResult(day, campaign_id, error=error)


def _one_line(exc):
    return f"{exc.__class__.__name__}: {' '.join(str(exc).split())}"


def _reaggregation_note(previous: dict) -> str:
    """Say which days were already aggregated, and by which run."""
    lines = []
    for run, entries in groupby(sorted(previous.items()), key=lambda entry: entry[1]):
        days = [day for day, _ in entries]
        span = str(days[0]) if len(days) == 1 else f"{days[0]}..{days[-1]}"
        lines.append(f"re-aggregation: {span} already aggregated by run #{run.pk} ({run.status}); "
                     f"its rows are replaced, not added to")
    return "\n".join(lines)


def sold_out_refusals_add(counts: dict[tuple[int, date], int]) -> None:
    """Add a web process's refusal counts {(campaign_id, day): n} to the day's rows: one upsert
    per campaign-day, adding to what the other processes wrote (campaigns.refusals flushes here)."""
    rows = [(campaign_id, day, n) for (campaign_id, day), n in sorted(counts.items()) if n > 0]
    if not rows:
        return
    db = transaction.get_connection()
    ops = db.ops
    table = ops.quote_name(SoldOutRefusals._meta.db_table)
    if db.vendor == "mysql":
        upsert = "ON DUPLICATE KEY UPDATE refused_count = refused_count + VALUES(refused_count)"
    else:
        upsert = ("ON CONFLICT (campaign_id, stats_date) DO UPDATE SET "
                  "refused_count = refused_count + excluded.refused_count")
    # One statement built here: the driver's executemany folding stops at the VALUES() of the upsert.
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    with db.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (campaign_id, stats_date, refused_count) VALUES {values} {upsert}",
                       [value for row in rows for value in row])


# One run at a time across the fleet: a named lock of the database server (MySQL and MariaDB's
# GET_LOCK), held by the connection that runs the batch; elsewhere (SQLite) a process lock.
RUN_LOCK = "firstcome.stats_batch"  # and the database's name: environments sharing a server do not meet
_process_lock = threading.Lock()


def run_lock_name() -> str:
    return f"{RUN_LOCK}.{connection.settings_dict['NAME']}"[:64]


@contextmanager
def stats_batch_lock():
    """Held while a run executes (the API's and the command's): BatchRunInProgress otherwise."""
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", [run_lock_name()])
            (taken,) = cursor.fetchone()
        if taken != 1:
            raise BatchRunInProgress("a statistics batch run is in progress; try again when it has finished")
        try:
            yield
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT RELEASE_LOCK(%s)", [run_lock_name()])
            except Exception:
                connection.close()  # the lock goes with its session: never kept by a reused connection
                raise
        return
    if not _process_lock.acquire(blocking=False):
        raise BatchRunInProgress("a statistics batch run is in progress; try again when it has finished")
    try:
        yield
    finally:
        _process_lock.release()


def stats_batch_run_alone(*, date_from: date, date_to: date) -> BatchRun:
    """stats_batch_run, refused with BatchRunInProgress (409) while another run holds the lock."""
    with stats_batch_lock():
        return stats_batch_run(date_from=date_from, date_to=date_to)

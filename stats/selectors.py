"""Reads of the statistics: the batch's aggregation queries and what the run history says."""
from datetime import date

from django.db.models import Count, Max, Min, Q

from stats.days import days_between
from stats.models import BatchRun, CampaignStats, DecisionEvent


def decision_event_count(campaign_id: int) -> int:
    return DecisionEvent.objects.filter(campaign_id=campaign_id).count()


def campaign_ids_to_aggregate(day: date, start_us: int, end_us: int) -> list[int]:
    """Campaigns with events received in [start_us, end_us) (epoch microseconds), plus those that
    already have a row for the day (a re-run rewrites it from what the raw table holds now)."""
    with_events = (DecisionEvent.objects.filter(received_at_us__gte=start_us, received_at_us__lt=end_us)
                   .values_list("campaign_id", flat=True).distinct().order_by())
    with_rows = CampaignStats.objects.filter(stats_date=day).values_list("campaign_id", flat=True)
    return sorted(set(with_events) | set(with_rows))


def campaign_day_counts(campaign_id: int, start_us: int, end_us: int) -> dict:
    """{status: (count, first received_at_us, last received_at_us)} for one campaign's events
    received in [start_us, end_us): one GROUP BY in the database, answered from the
    (campaign_id, received_at_us, status) index alone."""
    rows = (DecisionEvent.objects
            .filter(campaign_id=campaign_id, received_at_us__gte=start_us, received_at_us__lt=end_us)
            .values_list("status")
            .annotate(n=Count("id"), first=Min("received_at_us"), last=Max("received_at_us"))
            .order_by())
    return {status: (n, first, last) for status, n, first, last in rows}


def latest_run_per_day(job_name: str, first: date, last: date) -> dict:
    """{day: the latest finished run of job_name covering that day} for days in [first, last]."""
    runs = (BatchRun.objects.filter(job_name=job_name, date_from__lte=last, date_to__gte=first)
            .filter(~Q(status=BatchRun.Status.STARTED)).order_by("id"))
    latest = {}
    for run in runs:
        for day in days_between(max(run.date_from, first), min(run.date_to, last)):
            latest[day] = run
    return latest


"""Reads of the statistics: the batch's aggregation queries and what the run history says."""
from datetime import date, datetime

from django.db.models import Count, Max, Min, Q, Sum

from campaigns.models import Participation
from campaigns.selectors import campaign_id_chunks
from stats.days import days_between
from stats.models import BatchRun, CampaignStats, DecisionEvent, SoldOutRefusals


def decision_event_count(campaign_id: int) -> int:
    return DecisionEvent.objects.filter(campaign_id=campaign_id).count()


def day_counts_by_campaign(day: date, start_us: int, end_us: int) -> dict[int, dict]:
    """{campaign_id: {status: (count, first received_at_us, last received_at_us)}} of the events
    received in [start_us, end_us) (epoch microseconds): one GROUP BY in the database over a
    range of the (received_at_us, campaign_id, status) index, never the rows themselves.

    Campaigns that have a row for `day` but no events any more come with no counts: a re-run
    rewrites their row from what the raw table holds now.
    """
    rows = (DecisionEvent.objects.filter(received_at_us__gte=start_us, received_at_us__lt=end_us)
            .values_list("campaign_id", "status")
            .annotate(n=Count("*"), first=Min("received_at_us"), last=Max("received_at_us"))
            .order_by())
    counts = {campaign_id: {} for campaign_id in
              CampaignStats.objects.filter(stats_date=day).values_list("campaign_id", flat=True)}
    for campaign_id, status, n, first, last in rows:
        counts.setdefault(campaign_id, {})[status] = (n, first, last)
    return dict(sorted(counts.items()))


def redemptions_by_campaign(start: datetime, end: datetime) -> dict[int, int]:
    """{campaign_id: coupons redeemed in [start, end)}: redemptions are not decision events, they
    are read from the participation rows, the day's range of the (campaign, redeemed_at) index
    for each campaign (a few hundred campaigns per query)."""
    redeemed = {}
    for chunk in campaign_id_chunks():
        redeemed.update(Participation.objects.filter(campaign_id__in=chunk, redeemed_at__gte=start,
                                                     redeemed_at__lt=end)
                        .values_list("campaign_id").annotate(n=Count("*")).order_by())
    return redeemed


def latest_run_per_day(job_name: str, first: date, last: date) -> dict:
    """{day: the latest finished run of job_name covering that day} for days in [first, last]."""
    runs = (BatchRun.objects.filter(job_name=job_name, date_from__lte=last, date_to__gte=first)
            .filter(~Q(status=BatchRun.Status.STARTED)).order_by("id"))
    latest = {}
    for run in runs:
        for day in days_between(max(run.date_from, first), min(run.date_to, last)):
            latest[day] = run
    return latest



def sold_out_refusals_by_day(campaign_id: int) -> dict[date, int]:
    """{day: participations refused at the door as sold out} for one campaign (flushed counts)."""
    return dict(SoldOutRefusals.objects.filter(campaign_id=campaign_id).order_by("stats_date")
                .values_list("stats_date", "refused_count"))


def sold_out_refusals_total(campaign_id: int) -> int:
    return SoldOutRefusals.objects.filter(campaign_id=campaign_id).aggregate(n=Sum("refused_count"))["n"] or 0


def campaign_stats_of_day(day: date):
    """The batch's rows of a day, every campaign: one range of the unique (campaign, day) key per
    campaign is not needed, the (stats_date) prefix of the ordering index serves it."""
    return CampaignStats.objects.filter(stats_date=day).order_by("campaign_id")


def campaign_stats_between(campaign_id: int, first: date, last: date):
    """One campaign's rows for the days [first, last], oldest first: a range of its unique key."""
    return CampaignStats.objects.filter(campaign_id=campaign_id, stats_date__gte=first,
                                        stats_date__lte=last).order_by("stats_date")


def batch_runs():
    return BatchRun.objects.order_by("-id")


def batch_run_get(run_id: int) -> BatchRun | None:
    return BatchRun.objects.prefetch_related("failures").filter(pk=run_id).first()


def campaign_decided_events(campaign_id: int):
    """The campaign's stored decision events in decision order (their ids: stored as published),
    as the ordering metrics read them (stats.ordering.DecidedEvent)."""
    from stats.ordering import DecidedEvent

    rows = (DecisionEvent.objects.filter(campaign_id=campaign_id).order_by("id")
            .values_list("id", "user_id", "status", "partition", "offset", "broker_timestamp_us",
                         "received_at_us", "decided_at_us").iterator(chunk_size=20_000))
    return [DecidedEvent(*row) for row in rows]

"""Statistics, built off the hot path in two steps as in the original design:

1. consume_stats stores every decision event raw (DecisionEvent: the source of the statistics);
2. run_stats_batch aggregates them per campaign and day into CampaignStats, recording every run
   (BatchRun, with its per-campaign failures) like Spring Batch's job repository.
"""
from django.db import models

from campaigns.messages import from_epoch_us
from campaigns.models import Campaign, Participation


class DecisionEvent(models.Model):
    """One decided participation request, as the first-come consumer published it.

    No foreign key to the campaign: the raw store must accept whatever the decider published,
    at the decider's pace, and never stall the stats consumer on a constraint.
    """

    request_id = models.UUIDField(unique=True)  # a redelivered event finds its row and is skipped
    campaign_id = models.BigIntegerField()
    user_id = models.CharField(max_length=64)
    status = models.CharField(max_length=9, choices=Participation.Status.choices)
    # Kafka coordinates of the original request, and its times exactly as the event carries
    # them: epoch microseconds (UTC). Kept as integers: nothing to convert on the way in, at tens
    # of thousands of events a second; the batch compares them with a day's bounds in the same unit.
    topic = models.CharField(max_length=249)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    broker_timestamp_us = models.BigIntegerField()
    received_at_us = models.BigIntegerField(help_text="when the API accepted the request; decides its day")
    decided_at_us = models.BigIntegerField()
    coupon_code = models.CharField(max_length=16, null=True, blank=True, help_text="a SUCCESS's coupon")
    stored_at = models.DateTimeField(help_text="when the stats consumer stored it")

    class Meta:
        db_table = "decision_event"
        indexes = [
            # The batch's GROUP BY reads a day's range of this index and never the rows. Times
            # grow, so it is appended at its end: cheap to maintain at the consumer's pace.
            models.Index(fields=["received_at_us", "campaign_id", "status"], name="decision_event_day_counts"),
            # A campaign's events in decision order (the fairness report): InnoDB keeps the primary
            # key in every secondary index, so this one range is already sorted by id.
            models.Index(fields=["campaign_id"], name="decision_event_campaign"),
        ]

    def __str__(self):
        return f"{self.request_id} {self.status} (campaign {self.campaign_id})"

    @property
    def received_at(self):
        return from_epoch_us(self.received_at_us)

    @property
    def decided_at(self):
        return from_epoch_us(self.decided_at_us)


class BatchRun(models.Model):
    """One run of a batch job: its parameters, timing, outcome and volumes."""

    class Status(models.TextChoices):
        STARTED = "STARTED"  # still running, or the process died before it could finish
        COMPLETED = "COMPLETED"
        PARTIAL = "PARTIAL"  # some campaigns failed, the others were written
        FAILED = "FAILED"  # nothing was written

    job_name = models.CharField(max_length=64)
    date_from = models.DateField()
    date_to = models.DateField()
    time_zone = models.CharField(max_length=64, help_text="the zone the days are counted in")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.STARTED)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveBigIntegerField(default=0, help_text="raw decision events aggregated")
    rows_written = models.PositiveIntegerField(default=0, help_text="campaign_stats rows inserted or updated")
    message = models.TextField(blank=True)

    class Meta:
        db_table = "stats_batch_run"
        ordering = ["-id"]
        indexes = [models.Index(fields=["job_name", "date_from", "date_to"], name="stats_batch_run_days")]

    def __str__(self):
        return f"{self.job_name} #{self.pk} {self.date_from}..{self.date_to} {self.status}"

    @property
    def parameters(self):
        return f"--from {self.date_from} --to {self.date_to} ({self.time_zone})"


class BatchRunFailure(models.Model):
    """A campaign-day whose aggregation failed in a run; its transaction was rolled back."""

    run = models.ForeignKey(BatchRun, on_delete=models.CASCADE, related_name="failures")
    campaign_id = models.BigIntegerField()  # not a foreign key: the campaign may be what is wrong
    stats_date = models.DateField()
    error = models.CharField(max_length=500)
    traceback = models.TextField(blank=True)

    class Meta:
        db_table = "stats_batch_run_failure"
        ordering = ["id"]

    def __str__(self):
        return f"campaign {self.campaign_id} on {self.stats_date}: {self.error}"


class _CampaignDay(models.Model):
    """A row per campaign and day (in TIME_ZONE): each model names its unique (campaign, day)."""

    stats_date = models.DateField()

    class Meta:
        abstract = True
        ordering = ["-stats_date", "campaign_id"]

    def __str__(self):
        return f"campaign {self.campaign_id} on {self.stats_date}"


class CampaignStats(_CampaignDay):
    """A campaign's outcomes on one day. Written only by run_stats_batch, with
    INSERT … ON DUPLICATE KEY UPDATE on the unique (campaign, stats_date): re-running a day
    replaces its row, it never adds to it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="daily_stats")
    success_count = models.PositiveIntegerField(default=0)
    sold_out_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    redeemed_count = models.PositiveIntegerField(
        default=0, help_text="coupons of the campaign redeemed that day (whenever they were won)")
    first_received_at = models.DateTimeField(null=True, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    aggregated_at = models.DateTimeField()
    batch_run = models.ForeignKey(BatchRun, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", help_text="the run that last wrote this row")

    class Meta(_CampaignDay.Meta):
        db_table = "campaign_stats"
        verbose_name_plural = "campaign stats"
        constraints = [models.UniqueConstraint(fields=["campaign", "stats_date"], name="campaign_stats_one_row_per_day")]


class SoldOutRefusals(_CampaignDay):
    """Participations a campaign refused at the door on one day: answered 409 sold_out without
    being published, so they are no decision event. Each web process counts them in memory and
    adds its counts here every FIRSTCOME_REFUSALS_FLUSH_S (campaigns.refusals)."""

    campaign_id = models.BigIntegerField()  # no foreign key: written from the web tier's flush, never blocked
    refused_count = models.PositiveBigIntegerField(default=0)

    class Meta(_CampaignDay.Meta):
        db_table = "campaign_sold_out_refusals"
        verbose_name_plural = "sold-out refusals"
        constraints = [models.UniqueConstraint(fields=["campaign_id", "stats_date"],
                                               name="sold_out_refusals_one_row_per_day")]

    def __str__(self):
        return f"{super().__str__()}: {self.refused_count} refused"

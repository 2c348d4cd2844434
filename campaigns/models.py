from datetime import datetime, timezone

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class Campaign(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "SCHEDULED"
        OPEN = "OPEN"
        SOLD_OUT = "SOLD_OUT"
        CLOSED = "CLOSED"

    name = models.CharField(max_length=200)
    total_stock = models.PositiveIntegerField()
    # Only ever changed by the conditional UPDATE in campaigns.services.
    remaining_stock = models.PositiveIntegerField()
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Kept by the decision in the transaction that records the outcomes, so monitoring reads this
    # row instead of counting a million participation rows. SUCCESS needs no counter: it is
    # total_stock - remaining_stock.
    sold_out_count = models.PositiveBigIntegerField(default=0, editable=False)
    duplicate_count = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        db_table = "campaign"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total_stock__gt=0), name="campaign_total_stock_positive"),
            models.CheckConstraint(
                condition=Q(remaining_stock__lte=F("total_stock")), name="campaign_remaining_lte_total"
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="campaign_ends_after_start",
            ),
        ]

    # Times the API can render as ISO 8601 in TIME_ZONE: before 1908 Asia/Seoul's offset is local
    # mean time (+08:27:52, not a valid ISO offset) and 9999-12-31 overflows once shifted to it.
    EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
    LATEST_TIME = datetime(3000, 1, 1, tzinfo=timezone.utc)

    def __str__(self):
        return f"{self.name} (#{self.pk})"

    def clean(self):
        errors = {name: "must be between the years 2000 and 2999" for name in ("starts_at", "ends_at")
                  if getattr(self, name) and not self.EARLIEST_TIME <= getattr(self, name) < self.LATEST_TIME}
        if errors:
            raise ValidationError(errors)

    def status_at(self, now):
        if self.starts_at and now < self.starts_at:
            return self.Status.SCHEDULED
        if self.ends_at and now >= self.ends_at:
            return self.Status.CLOSED
        if self.remaining_stock == 0:
            return self.Status.SOLD_OUT
        return self.Status.OPEN


class Participation(models.Model):
    """One processed participation request: its outcome and where it sat in Kafka.

    Every request the consumer decides leaves exactly one row (request_id is unique, so a
    redelivered message finds its row instead of being decided again). A user's first request
    for a campaign is their *decision* (SUCCESS or SOLD_OUT); later ones are DUPLICATE.
    """

    class Status(models.TextChoices):
        SUCCESS = "SUCCESS"
        SOLD_OUT = "SOLD_OUT"
        DUPLICATE = "DUPLICATE"

    request_id = models.UUIDField(unique=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="participations")
    user_id = models.CharField(max_length=64)
    status = models.CharField(max_length=9, choices=Status.choices)
    # True on the user's decision row, NULL on DUPLICATE rows. With the unique key below this is
    # what makes a second coupon (or a second decision) for one user impossible in the database
    # itself: unique indexes treat NULLs as distinct, so any number of DUPLICATE rows may exist.
    is_decision = models.BooleanField(null=True, editable=False)
    # Kafka coordinates of the request and the times the ordering/fairness metrics need.
    topic = models.CharField(max_length=249)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    broker_timestamp = models.DateTimeField()
    received_at = models.DateTimeField(help_text="when the API accepted the request")
    decided_at = models.DateTimeField(help_text="when the consumer decided it, inside the committing transaction")

    class Meta:
        db_table = "participation"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "user_id", "is_decision"], name="one_decision_per_user"
            ),
            models.CheckConstraint(
                condition=(Q(status="DUPLICATE") & Q(is_decision__isnull=True))
                | (Q(status__in=["SUCCESS", "SOLD_OUT"]) & Q(is_decision=True)),
                name="participation_decision_matches_status",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="participation_campaign_status")]

    def __str__(self):
        return f"{self.user_id} → {self.status} (campaign {self.campaign_id})"

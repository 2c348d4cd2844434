from datetime import datetime, timezone

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class CampaignQuerySet(models.QuerySet):
    """Campaign.objects. Bulk writes refuse Campaign.DECISION_FIELDS unless the queryset came from
    for_decision(), which only the decision in campaigns.services uses."""

    _decision = False

    def for_decision(self):
        clone = self._chain()
        clone._decision = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._decision = self._decision
        return clone

    def update(self, **kwargs):
        if not self._decision:
            Campaign.refuse_decision_fields(kwargs, "QuerySet.update()")
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None):
        Campaign.refuse_decision_fields(fields, "bulk_update()")
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def bulk_create(self, objs, *args, update_conflicts=False, update_fields=None, **kwargs):
        if update_conflicts:  # an upsert would overwrite an existing campaign's stock
            Campaign.refuse_decision_fields(update_fields or (), "bulk_create(update_conflicts=True)")
        return super().bulk_create(objs, *args, update_conflicts=update_conflicts,
                                   update_fields=update_fields, **kwargs)


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

    # Once the row exists these move only through the decision's guarded UPDATEs: a save that
    # wrote back values it had read earlier would undo a batch committed in between (coupons
    # issued beyond the stock). total_stock is among them because SUCCESS is total - remaining:
    # it is fixed at creation.
    DECISION_FIELDS = frozenset({"total_stock", "remaining_stock", "sold_out_count", "duplicate_count"})

    objects = CampaignQuerySet.as_manager()
    _decision_values = {}  # replaced per instance by _remember_decision_values(), never mutated

    class Meta:
        db_table = "campaign"
        ordering = ["-id"]
        # Beside the model's own: what the staff roles are made of (campaigns.roles).
        permissions = [("export_winners", "Can export a campaign's winners"),
                       ("redeem_coupon", "Can redeem a coupon at the till")]
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

    @classmethod
    def refuse_decision_fields(cls, names, how):
        if refused := sorted(cls.DECISION_FIELDS.intersection(names)):
            raise ValueError(f"{how} cannot write {', '.join(refused)} of a campaign: after creation "
                             f"only the decision in campaigns.services moves the stock and counters")

    def save(self, *, force_insert=False, force_update=False, using=None, update_fields=None):
        """A new instance inserts its row; an existing one writes only the other columns."""
        if self._state.adding:
            if force_update or update_fields is not None:
                raise ValueError("a new Campaign instance inserts a row; it does not update one")
            # Never Django's UPDATE-then-INSERT for an instance built with an existing pk.
            super().save(force_insert=force_insert or True, using=using)
        else:
            if update_fields is None:
                changed = [name for name, value in self._decision_values.items() if getattr(self, name) != value]
                self.refuse_decision_fields(changed, "Campaign.save()")
                update_fields = [f.attname for f in self._meta.concrete_fields
                                 if not f.primary_key and f.name not in self.DECISION_FIELDS
                                 and f.attname in self.__dict__]
            self.refuse_decision_fields(update_fields, "Campaign.save(update_fields=...)")
            super().save(force_update=force_update, using=using, update_fields=update_fields)
        self._remember_decision_values()

    save.alters_data = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_decision_values()
        return instance

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_decision_values()

    def _remember_decision_values(self):
        """The stock and counters as read, so save() can tell an edit of them (refused) from a
        stale copy (left alone)."""
        self._decision_values = {name: self.__dict__[name] for name in self.DECISION_FIELDS
                                 if name in self.__dict__}

    def clean(self):
        errors = {name: "must be between the years 2000 and 2999" for name in ("starts_at", "ends_at")
                  if getattr(self, name) and not self.EARLIEST_TIME <= getattr(self, name) < self.LATEST_TIME}
        if errors:
            raise ValidationError(errors)

    @classmethod
    def window_status(cls, *, starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> str:
        """SCHEDULED before starts_at, CLOSED from ends_at on, OPEN in between: the one rule for
        whether a campaign takes participations (status_at, and the submission's check on the
        cached window, which has no Campaign instance)."""
        if starts_at and now < starts_at:
            return cls.Status.SCHEDULED
        if ends_at and now >= ends_at:
            return cls.Status.CLOSED
        return cls.Status.OPEN

    def status_at(self, now):
        status = self.window_status(starts_at=self.starts_at, ends_at=self.ends_at, now=now)
        if status == self.Status.OPEN and self.remaining_stock == 0:
            return self.Status.SOLD_OUT
        return status


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
    # A SUCCESS's coupon (campaigns.coupons), given in the deciding transaction; NULL otherwise
    # (unique indexes let any number of NULLs by). ASCII compared byte for byte (migration 0005).
    coupon_code = models.CharField(max_length=16, null=True, blank=True, unique=True, editable=False)
    # Written once, by the conditional UPDATE of the redemption (campaigns.redemption), never by
    # the decision: so it is not among the columns campaigns.rows writes.
    redeemed_at = models.DateTimeField(null=True, blank=True, editable=False,
                                       help_text="when the coupon was redeemed at the till")

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
            models.CheckConstraint(condition=Q(coupon_code__isnull=True) | Q(status="SUCCESS"),
                                   name="participation_coupon_only_for_success"),
        ]
        # A campaign's outcomes, and its winners in id order (the CSV export's pages).
        indexes = [models.Index(fields=["campaign", "status"], name="participation_campaign_status"),
                   # A campaign's redemptions: the dashboard's count, the statistics' day.
                   models.Index(fields=["campaign", "redeemed_at"], name="participation_redemptions")]

    def __str__(self):
        return f"{self.user_id} → {self.status} (campaign {self.campaign_id})"

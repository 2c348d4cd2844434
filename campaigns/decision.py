"""The decision: the one place that decides who gets a coupon, per event or for a whole batch.

Kafka decides the *order*; the database decides the *outcome*, with the conditional update
    UPDATE campaign SET remaining_stock = remaining_stock - 1
     WHERE id = ? AND remaining_stock > 0       -- 1 row: issued, 0 rows: sold out
inside a transaction that also records the outcome under a unique (campaign, user) decision key.
These UPDATEs, through Campaign.objects.for_decision(), are the only writes of an existing
campaign's stock and counters: every other save path refuses them (Campaign.DECISION_FIELDS).
The outcome's row is written by campaigns.rows. A SUCCESS gets its coupon code
(campaigns.coupons) in the same transaction, under a unique key: a code that happened to be
given before fails the insert like a redelivered request does, and the decision is made again
with new codes instead of failing (campaigns/tests/test_coupons.py).
"""
import logging
from collections import Counter
from datetime import datetime
from typing import NamedTuple, Sequence

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from campaigns import rows
from campaigns.coupons import coupon_codes
from campaigns.messages import ParticipationRequest
from campaigns.models import Campaign, Participation
from campaigns.selectors import users_with_decisions

log = logging.getLogger(__name__)

Status = Participation.Status
# What a redelivered request is answered with: the outcome recorded for it.
_RECORDED = ("status", "decided_at", "coupon_code")
# The batch's tries: the optimistic one, then knowing the redelivered requests; a third for a
# coupon code given before (75 random bits: never seen, but it must not lose the batch).
BATCH_ATTEMPTS = 3
ER_DUP_ENTRY = 1062  # MySQL's and MariaDB's unique key refusal


class Decision(NamedTuple):  # immutable, and cheap to build once per record (see ParticipationRequest)
    request: ParticipationRequest
    status: str
    decided_at: datetime
    coupon_code: str | None = None  # a SUCCESS's; None for the other outcomes


def is_unique_violation(exc: IntegrityError) -> bool:
    """A unique key's refusal, the one a new try can answer (a redelivered request, a concurrent
    decision, a code given before). Any other IntegrityError (NOT NULL, a foreign key) would
    fail again the same way. Other databases than MySQL/MariaDB are not told apart: retried."""
    if transaction.get_connection().vendor != "mysql":
        return True
    return bool(exc.args) and exc.args[0] == ER_DUP_ENTRY


def participation_decide(request: ParticipationRequest) -> Decision:
    """Decide one request in its own transaction (the original design's path).

    Idempotent: a request already decided (a redelivered message) returns its recorded outcome
    and changes nothing. A concurrent decision for the same user (another consumer, another
    partition) trips the unique decision key, as would a coupon code given before; the
    transaction rolls back, stock included, and the request is decided again against what is
    now committed, with a new code.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _decide_one(request)
        except IntegrityError as exc:
            if attempt == 2 or not is_unique_violation(exc):
                raise
            log.info("decision for user %r on campaign %s refused by a unique key (a concurrent decision, "
                     "or a coupon code given before), deciding again", request.user_id, request.campaign_id)


def _decide_one(request: ParticipationRequest) -> Decision:
    recorded = (Participation.objects.filter(request_id=request.request_id)
                .values_list(*_RECORDED).first())
    if recorded:
        return Decision(request, *recorded)
    if Participation.objects.filter(campaign_id=request.campaign_id, user_id=request.user_id,
                                    is_decision=True).exists():
        status = Status.DUPLICATE
    else:
        issued = (Campaign.objects.for_decision().filter(pk=request.campaign_id, remaining_stock__gt=0)
                  .update(remaining_stock=F("remaining_stock") - 1))
        status = Status.SUCCESS if issued else Status.SOLD_OUT
    decision = Decision(request, status, timezone.now(), coupon_codes(1)[0] if status == Status.SUCCESS else None)
    decision_record(decision)
    return decision


def decision_record(decision: Decision) -> None:
    """Record one decision in the caller's transaction: its campaign's counters, then its row."""
    count_outcomes([decision])
    Participation.objects.create(**rows.orm_fields(decision))


def participations_decide_batch(requests: Sequence[ParticipationRequest]) -> list[Decision | None]:
    """Decide a whole polled batch in the caller's transaction, with the same outcomes as
    deciding the requests one at a time in this order (a property test holds it to that).

    Per campaign, in order: the first `remaining_stock` users without a decision win, a user's
    later requests are DUPLICATE, the rest SOLD_OUT. The campaign rows are locked (in id order,
    so consumers on other partitions queue instead of deadlocking), the stock moves by one
    guarded `remaining_stock = remaining_stock - k` per campaign, and the outcomes go in with
    one multi-row insert. Returns one Decision per request, None where the campaign does not
    exist (the caller dead-letters those).
    """
    if not requests:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("participations_decide_batch must run inside transaction.atomic()")
    stock = dict(Campaign.objects.select_for_update().filter(pk__in={r.campaign_id for r in requests})
                 .order_by("pk").values_list("pk", "remaining_stock"))
    # Optimistic: a batch is almost never a redelivery, so do not look its request ids up. If one
    # was decided before, its unique request_id fails the insert (as would a coupon code given
    # before) and the savepoint takes the stock update back with it; the batch is then decided
    # again knowing the recorded outcomes, with new codes. Raising instead would have the
    # consumer split the batch to isolate a record that did nothing wrong.
    recorded = {}
    for attempt in range(BATCH_ATTEMPTS):
        try:
            with transaction.atomic():
                return _decide_batch(requests, stock, recorded)
        except IntegrityError as exc:
            if attempt == BATCH_ATTEMPTS - 1 or not is_unique_violation(exc):
                raise  # a refusal a retry cannot change: the consumer splits the batch to isolate it
            recorded = {rid: recorded_outcome for rid, *recorded_outcome in
                        Participation.objects.filter(request_id__in={r.request_id for r in requests})
                        .values_list("request_id", *_RECORDED)}


def _decide_batch(requests, stock, recorded):
    users_by_campaign = {}
    for r in requests:
        if r.campaign_id in stock and r.request_id not in recorded:
            users_by_campaign.setdefault(r.campaign_id, set()).add(r.user_id)
    decided_users = set()
    for campaign_id, users in users_by_campaign.items():
        decided_users.update((campaign_id, user_id) for user_id in users_with_decisions(campaign_id, users))

    now = timezone.now()
    # Enough codes for the most winners the batch can have, in one call: none once sold out.
    codes = iter(coupon_codes(min(len(requests), sum(stock.values()))))
    decisions, new, issued = [], {}, dict.fromkeys(stock, 0)
    for r in requests:
        if r.campaign_id not in stock:
            decisions.append(None)
            continue
        if r.request_id in recorded:  # redelivered: the outcome it already has
            decisions.append(Decision(r, *recorded[r.request_id]))
            continue
        if r.request_id in new:  # the same request twice in one batch (a producer retry)
            decisions.append(new[r.request_id])
            continue
        user = (r.campaign_id, r.user_id)
        code = None
        if user in decided_users:
            status = Status.DUPLICATE
        else:
            decided_users.add(user)
            if stock[r.campaign_id] > issued[r.campaign_id]:
                issued[r.campaign_id] += 1
                status, code = Status.SUCCESS, next(codes)
            else:
                status = Status.SOLD_OUT
        decision = new[r.request_id] = Decision(r, status, now, code)
        decisions.append(decision)

    for campaign_id, count in issued.items():
        if count and not (Campaign.objects.for_decision().filter(pk=campaign_id, remaining_stock__gte=count)
                          .update(remaining_stock=F("remaining_stock") - count)):
            # Cannot happen while the row lock is held; if it does, roll the batch back.
            raise RuntimeError(f"campaign {campaign_id}: stock moved under the row lock")
    count_outcomes(new.values())
    rows.participations_insert(new.values())
    return decisions


def count_outcomes(decisions) -> None:
    """Add new SOLD_OUT / DUPLICATE decisions to their campaign's counters, in the caller's
    transaction (SUCCESS is the stock that moved). Runs before the participation insert, so every
    path takes the campaign row lock first and the lock order stays campaign → participation."""
    counts = {}
    for d in decisions:
        if d.status != Status.SUCCESS:
            counts.setdefault(d.request.campaign_id, Counter())[d.status] += 1
    for campaign_id, by_status in counts.items():
        Campaign.objects.for_decision().filter(pk=campaign_id).update(
            sold_out_count=F("sold_out_count") + by_status[Status.SOLD_OUT],
            duplicate_count=F("duplicate_count") + by_status[Status.DUPLICATE])

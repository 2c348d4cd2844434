"""Synchronous baselines (manage.py burst_report): the decision made inside the web request,
without Kafka, three ways. The experiment that shows what Kafka and the conditional update buy;
one strategy oversells on purpose, which is why this lives in the lab and never in the product.
"""
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.errors import UnknownStrategy
from campaigns.messages import ParticipationRequest, to_epoch_us
from campaigns.models import Campaign, Participation
from campaigns.request_ids import new_request_id
from campaigns.selectors import campaign_window

# The product's own window check and bookkeeping, so a baseline differs from the Kafka path only
# in how it moves the stock.
from campaigns.decision import Decision, decision_record, participation_decide
from campaigns.submission import check_window as _check_window

Status = Participation.Status

SYNC_STRATEGIES = ("naive", "atomic", "locked")


def participation_decide_sync(*, campaign_id, user_id, strategy, now=None) -> Decision:
    """Decide one participation now, bypassing Kafka (its row has topic '', partition and
    offset -1). Same campaign-window rules and same unique decision key as the Kafka path.

    naive:  read the stock, check it in Python, write the new value back, no lock. Two requests
            that both read 5 both write 4 and both get a coupon: lost updates, then oversell.
    atomic: participation_decide, the conditional UPDATE the Kafka consumer uses.
    locked: naive's read-check-write with the campaign row read FOR UPDATE (pessimistic lock).
    """
    if strategy not in SYNC_STRATEGIES:
        choices = ", ".join(SYNC_STRATEGIES)
        raise UnknownStrategy(f"unknown strategy {strategy!r}: use one of {choices}" if strategy
                              else f"strategy is required: one of {choices}")
    now = now or timezone.now()
    campaign = campaign_window(campaign_id)
    _check_window(campaign, now)  # the baselines decide SOLD_OUT themselves: that is the experiment
    request = ParticipationRequest(request_id=new_request_id(), campaign_id=campaign.pk,
                                   user_id=user_id, received_us=to_epoch_us(now))
    if strategy == "atomic":
        return participation_decide(request)
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _decide_read_then_write(request, lock=strategy == "locked")
        except IntegrityError:
            # The same user was decided concurrently (unique decision key): everything, stock
            # included, rolled back; deciding again finds that decision and records a DUPLICATE.
            if attempt:
                raise


def _decide_read_then_write(request: ParticipationRequest, *, lock: bool) -> Decision:
    campaign = Campaign.objects.for_decision().filter(pk=request.campaign_id)
    remaining = (campaign.select_for_update() if lock else campaign).values_list(
        "remaining_stock", flat=True).get()
    if Participation.objects.filter(campaign_id=request.campaign_id, user_id=request.user_id,
                                    is_decision=True).exists():
        status = Status.DUPLICATE
    elif remaining > 0:
        if settings.FIRSTCOME_SYNC_RACE_WINDOW_S:  # test-only: widen the read → write window
            time.sleep(settings.FIRSTCOME_SYNC_RACE_WINDOW_S)
        # Writes the value computed from the read, not remaining_stock - 1: that is the race.
        campaign.update(remaining_stock=remaining - 1)
        status = Status.SUCCESS
    else:
        status = Status.SOLD_OUT
    decision = Decision(request, status, timezone.now())
    decision_record(decision)
    return decision

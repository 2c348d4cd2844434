"""Writes and the decision. The one place that decides who gets a coupon.

Kafka decides the *order*; the database decides the *outcome*, with the conditional update
    UPDATE campaign SET remaining_stock = remaining_stock - 1
     WHERE id = ? AND remaining_stock > 0       -- 1 row: issued, 0 rows: sold out
inside a transaction that also records the outcome under a unique (campaign, user) decision key.
These UPDATEs, through Campaign.objects.for_decision(), are the only writes of an existing
campaign's stock and counters: every other save path refuses them (Campaign.DECISION_FIELDS).
"""
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.errors import BrokerUnavailable, CampaignNotOpen
from campaigns.messages import ParticipationRequest, encode_participation, message_key
from campaigns.models import Campaign, Participation
from campaigns.request_ids import new_request_id
from campaigns.selectors import CampaignWindow, campaign_window, users_with_decisions
from streaming.producer import PublishError, publish, publish_async

log = logging.getLogger(__name__)

Status = Participation.Status


def campaign_create(*, name, total_stock, starts_at=None, ends_at=None) -> Campaign:
    campaign = Campaign(name=name, total_stock=total_stock, remaining_stock=total_stock,
                        starts_at=starts_at, ends_at=ends_at)
    campaign.full_clean()
    campaign.save()
    return campaign


def participation_submit(*, campaign_id, user_id, now=None) -> uuid.UUID:
    """Validate against the campaign's window, hand the request to Kafka, return its id.

    Returns only once the broker has acknowledged the message: an id handed out is a request
    that will be decided. Nothing is written to the database here.
    """
    now = now or timezone.now()
    submission = participation_prepare(campaign_window(campaign_id), user_id, now)
    try:
        publish(settings.FIRSTCOME_TOPIC, submission.value, key=submission.key)
    except PublishError as exc:
        raise _not_accepted(submission, exc) from exc
    return submission.request_id


@dataclass(frozen=True, slots=True)
class Submission:
    """A participation request ready for Kafka: its id, and the message that carries it."""

    campaign_id: int
    request_id: uuid.UUID
    value: bytes
    key: bytes | None


def participation_prepare(campaign: CampaignWindow, user_id, now) -> Submission:
    """The request as it will be published, if the campaign takes participations at `now`;
    CampaignNotOpen if not. No I/O: the ASGI ingest calls it on its event loop."""
    _check_open(campaign, now)
    request_id = new_request_id()
    return Submission(campaign.pk, request_id, encode_participation(request_id, campaign.pk, user_id, now),
                      message_key(campaign.pk, user_id, settings.FIRSTCOME_MESSAGE_KEY))


async def participation_publish_async(submission: Submission) -> uuid.UUID:
    """participation_submit()'s publish step on an event loop: same acknowledgement, same error."""
    try:
        await publish_async(settings.FIRSTCOME_TOPIC, submission.value, key=submission.key)
    except PublishError as exc:
        raise _not_accepted(submission, exc) from exc
    return submission.request_id


def _check_open(campaign: CampaignWindow, now):
    """CampaignNotOpen unless the campaign takes participations at `now`."""
    if campaign.starts_at and now < campaign.starts_at:
        raise CampaignNotOpen(f"campaign {campaign.pk} opens at {campaign.starts_at.isoformat()}")
    if campaign.ends_at and now >= campaign.ends_at:
        raise CampaignNotOpen(f"campaign {campaign.pk} closed at {campaign.ends_at.isoformat()}")


def _not_accepted(submission, exc):
    log.warning("participation for campaign %s not accepted: %s", submission.campaign_id, exc)
    return BrokerUnavailable("the request could not be queued; nothing was recorded, retry")


@dataclass(frozen=True, slots=True)
class Decision:
    request: ParticipationRequest
    status: str
    decided_at: datetime


def participation_decide(request: ParticipationRequest) -> Decision:
    """Decide one request in its own transaction (the original design's path).

    Idempotent: a request already decided (a redelivered message) returns its recorded outcome
    and changes nothing. A concurrent decision for the same user (another consumer, another
    partition) trips the unique decision key; the transaction rolls back, stock included, and
    the request is decided again against what is now committed.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _decide_one(request)
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("decision race for user %r on campaign %s, deciding again",
                     request.user_id, request.campaign_id)


def _decide_one(request: ParticipationRequest) -> Decision:
    recorded = (Participation.objects.filter(request_id=request.request_id)
                .values_list("status", "decided_at").first())
    if recorded:
        return Decision(request, *recorded)
    if Participation.objects.filter(campaign_id=request.campaign_id, user_id=request.user_id,
                                    is_decision=True).exists():
        status = Status.DUPLICATE
    else:
        issued = (Campaign.objects.for_decision().filter(pk=request.campaign_id, remaining_stock__gt=0)
                  .update(remaining_stock=F("remaining_stock") - 1))
        status = Status.SUCCESS if issued else Status.SOLD_OUT
    decision = Decision(request, status, timezone.now())
    _count_outcomes([decision])
    Participation.objects.create(**_participation_fields(decision))
    return decision


def _participation_fields(decision: Decision):
    request = decision.request
    return dict(
        request_id=request.request_id, campaign_id=request.campaign_id, user_id=request.user_id,
        status=decision.status, is_decision=None if decision.status == Status.DUPLICATE else True,
        topic=request.topic, partition=request.partition, offset=request.offset,
        broker_timestamp=request.broker_timestamp or request.received_at,
        received_at=request.received_at, decided_at=decision.decided_at,
    )


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
    try:
        # Optimistic: a batch is almost never a redelivery, so do not look its request ids up.
        # If one was decided before, its unique request_id fails the insert and the savepoint
        # takes the stock update back with it.
        with transaction.atomic():
            return _decide_batch(requests, stock, recorded={})
    except IntegrityError:
        recorded = {rid: (status, decided_at) for rid, status, decided_at in
                    Participation.objects.filter(request_id__in={r.request_id for r in requests})
                    .values_list("request_id", "status", "decided_at")}
        return _decide_batch(requests, stock, recorded)


def _decide_batch(requests, stock, recorded):
    users_by_campaign = {}
    for r in requests:
        if r.campaign_id in stock and r.request_id not in recorded:
            users_by_campaign.setdefault(r.campaign_id, set()).add(r.user_id)
    decided_users = set()
    for campaign_id, users in users_by_campaign.items():
        decided_users.update((campaign_id, user_id) for user_id in users_with_decisions(campaign_id, users))

    now = timezone.now()
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
        if user in decided_users:
            status = Status.DUPLICATE
        else:
            decided_users.add(user)
            if stock[r.campaign_id] > issued[r.campaign_id]:
                issued[r.campaign_id] += 1
                status = Status.SUCCESS
            else:
                status = Status.SOLD_OUT
        decision = new[r.request_id] = Decision(r, status, now)
        decisions.append(decision)

    for campaign_id, count in issued.items():
        if count and not (Campaign.objects.for_decision().filter(pk=campaign_id, remaining_stock__gte=count)
                          .update(remaining_stock=F("remaining_stock") - count)):
            # Cannot happen while the row lock is held; if it does, roll the batch back.
            raise RuntimeError(f"campaign {campaign_id}: stock moved under the row lock")
    _count_outcomes(new.values())
    _insert_participations(new.values())
    return decisions


def _count_outcomes(decisions):
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


_INSERT_COLUMNS = ("request_id", "campaign_id", "user_id", "status", "is_decision", "topic",
                   "partition", "offset", "broker_timestamp", "received_at", "decided_at")


def _insert_participations(decisions):
    """One multi-row INSERT. At tens of thousands of rows a second, building ORM objects and
    adapting each value through the field machinery costs several times what the database does,
    so the values are prepared here directly, in the forms Django itself would send."""
    decisions = list(decisions)
    if not decisions:
        return
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    head = (f"INSERT INTO {quote(Participation._meta.db_table)} "
            f"({', '.join(quote(c) for c in _INSERT_COLUMNS)}) VALUES ")
    with connection.cursor() as cursor:
        if connection.vendor == "mysql" and connection.timezone_name == "UTC":
            for start in range(0, len(decisions), _ROWS_PER_STATEMENT):
                cursor.execute(head.encode() + b",".join(
                    _mysql_values(connection, decisions[start:start + _ROWS_PER_STATEMENT])))
        else:
            as_uuid = _uuid_text(connection)
            as_datetime = connection.ops.adapt_datetimefield_value
            cursor.executemany(head + f"({', '.join(['%s'] * len(_INSERT_COLUMNS))})", [
                (as_uuid(d.request.request_id), d.request.campaign_id, d.request.user_id, d.status,
                 None if d.status == Status.DUPLICATE else True, d.request.topic, d.request.partition,
                 d.request.offset, as_datetime(d.request.broker_timestamp or d.request.received_at),
                 as_datetime(d.request.received_at), as_datetime(d.decided_at)) for d in decisions])


_ROWS_PER_STATEMENT = 5000  # ~1 MB of SQL, well under MySQL's max_allowed_packet


def _mysql_values(connection, decisions):
    """Each row's VALUES tuple as SQL bytes, built without the driver's per-value literal() (a
    third of the insert's cost). Only user_id and topic come from outside, and both go through
    the driver's own escaping; everything else is an int, a UUID's canonical text, a status
    constant, or a datetime formatted here as naive UTC (what Django sends when the connection's
    time zone is UTC)."""
    escape = connection.connection.string_literal
    as_uuid = _uuid_text(connection)
    topics, decided = {}, {}
    rows = []
    for d in decisions:
        r = d.request
        topic = topics.get(r.topic) or topics.setdefault(r.topic, escape(r.topic.encode()))
        decided_at = decided.get(d.decided_at) or decided.setdefault(d.decided_at, _naive_utc_text(d.decided_at).encode())
        rows.append(b"('%s',%d,%s,'%s',%s,%s,%d,%d,'%s','%s','%s')" % (
            as_uuid(r.request_id).encode(), r.campaign_id, escape(r.user_id.encode()), d.status.encode(),
            b"NULL" if d.status == Status.DUPLICATE else b"1", topic, r.partition, r.offset,
            _naive_utc_text(r.broker_timestamp or r.received_at).encode(),
            _naive_utc_text(r.received_at).encode(), decided_at))
    return rows


def _uuid_text(connection):
    """How a UUID is written for this database: canonical text for a native uuid column, 32 hex
    digits for Django's char(32) elsewhere."""
    return str if connection.features.has_native_uuid_field else (lambda u: u.hex)


def _naive_utc_text(moment):
    if moment.tzinfo is dt_timezone.utc:  # what the consumer decodes: skip the conversion
        return str(moment)[:-6]  # "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00" without the offset
    return str(moment.astimezone(dt_timezone.utc).replace(tzinfo=None))


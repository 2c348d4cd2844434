"""Reads. Views, consumers and reports read the database through these functions."""
import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections, connection
from django.db.models import Count, Max, Min, Q
from prometheus_client import Counter

from campaigns.coupons import CouponCodeInvalid, coupon_code_read
from campaigns.errors import CampaignNotFound, DatabaseUnavailable
from campaigns.models import Campaign, Participation

log = logging.getLogger(__name__)


def campaign_list():
    return Campaign.objects.all()


def campaign_status_filter(*, status: str, now: datetime) -> Q:
    """The campaigns whose status_at(now) is `status`, as a filter: Campaign.window_status and
    status_at's sold-out rule written in SQL (the admin's status filter, closing a campaign)."""
    started = Q(starts_at__isnull=True) | Q(starts_at__lte=now)
    is_open = started & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    return {Campaign.Status.SCHEDULED: Q(starts_at__gt=now),
            Campaign.Status.CLOSED: started & Q(ends_at__lte=now),
            Campaign.Status.OPEN: is_open & Q(remaining_stock__gt=0),
            Campaign.Status.SOLD_OUT: is_open & Q(remaining_stock=0)}[status]


def campaign_get(campaign_id) -> Campaign:
    try:
        return Campaign.objects.get(pk=campaign_id)
    except (Campaign.DoesNotExist, ValueError, TypeError, OverflowError):
        raise CampaignNotFound(f"campaign {campaign_id} does not exist") from None


class CampaignWindow(NamedTuple):
    pk: int
    starts_at: datetime | None
    ends_at: datetime | None
    # remaining_stock was 0 when read (or a SOLD_OUT decision was seen): the stock never grows
    # again (the decision's guarded UPDATE), so every later request is refused at the door.
    sold_out: bool = False


_windows = {}  # campaign id -> (read at, CampaignWindow); per process, shared by its threads
_sold_out = set()  # campaign ids known sold out in this process: true forever once true
_unreadable_until = {}  # campaign id -> monotonic time before which the database is not asked again
# After a failed read the database is asked again at most this often per campaign and process:
# during an outage every request would otherwise wait for its own connection attempt.
READ_RETRY_S = 1.0
STALE_WINDOWS = Counter("firstcome_campaign_windows_stale_total",
                        "Participations checked against a campaign window older than FIRSTCOME_CAMPAIGN_CACHE_S "
                        "because the database could not be read (at most FIRSTCOME_CAMPAIGN_STALE_S old).")


def campaign_window(campaign_id) -> CampaignWindow:
    """When a campaign takes participations, read at most once per FIRSTCOME_CAMPAIGN_CACHE_S
    per process: the participation endpoint runs thousands of times a second for a handful of
    campaigns whose window rarely changes. Of the stock only "none left" matters here (sold_out),
    seen within that many seconds. A changed window is seen within that many seconds. Unknown
    ids are not cached.

    While the database cannot be read (a failover, a restart) the last window read is used for up
    to FIRSTCOME_CAMPAIGN_STALE_S: requests are still checked against it (a closed campaign stays
    closed at its end, a sold-out one stays sold out) and queued; past that, or for a campaign
    never read, DatabaseUnavailable (503, Retry-After). Never the driver's error."""
    known, stale = _known_without_reading(campaign_id)
    if known:
        return known
    try:
        pk, starts_at, ends_at, remaining = (Campaign.objects.values_list("pk", "starts_at", "ends_at", "remaining_stock")
                                             .get(pk=campaign_id))
    except (Campaign.DoesNotExist, ValueError, TypeError, OverflowError):
        raise CampaignNotFound(f"campaign {campaign_id} does not exist") from None
    except (DatabaseError, InterfaceError) as exc:
        _unreadable_until[campaign_id] = time.monotonic() + READ_RETRY_S
        log.warning("campaign %s: database unreadable (%s)", campaign_id, type(exc).__name__)
        return _stale_or_unavailable(campaign_id, stale)
    _unreadable_until.pop(campaign_id, None)
    if remaining == 0:
        _sold_out.add(pk)
    window = CampaignWindow(pk, starts_at, ends_at, pk in _sold_out)
    if len(_windows) > 10_000:  # a bound, not an LRU: campaigns are few
        _windows.clear()
    _windows[campaign_id] = (time.monotonic(), window)  # kept even uncached: the outage fallback
    return window


def _known_without_reading(campaign_id) -> tuple[CampaignWindow | None, CampaignWindow | None]:
    """(the window to use without asking the database, or None; the stale window a failed read
    may fall back on). A read that failed less than READ_RETRY_S ago is not tried again yet."""
    cached = _cached_window(campaign_id)
    if cached:
        return cached, cached
    stale = _stale_window(campaign_id)
    if time.monotonic() < _unreadable_until.get(campaign_id, 0):
        return _stale_or_unavailable(campaign_id, stale), stale
    return None, stale


def _stale_or_unavailable(campaign_id, stale: CampaignWindow | None) -> CampaignWindow:
    if stale is None:
        raise DatabaseUnavailable(f"campaign {campaign_id} cannot be checked: the database is unavailable; "
                                  "nothing was queued, retry")
    STALE_WINDOWS.inc()
    return stale


def _window_younger_than(campaign_id, seconds) -> CampaignWindow | None:
    cached = _windows.get(campaign_id)
    if cached and time.monotonic() - cached[0] < seconds:
        window = cached[1]
        return window._replace(sold_out=True) if not window.sold_out and window.pk in _sold_out else window
    return None


def _cached_window(campaign_id) -> CampaignWindow | None:
    return _window_younger_than(campaign_id, settings.FIRSTCOME_CAMPAIGN_CACHE_S)


def _stale_window(campaign_id) -> CampaignWindow | None:
    """The last window read, if the outage fallback may still use it: for FIRSTCOME_CAMPAIGN_STALE_S,
    or for ever once sold out (its stock never grows again)."""
    cached = _windows.get(campaign_id)
    if cached is not None and cached[1].pk in _sold_out:
        return _window_younger_than(campaign_id, float("inf"))
    return _window_younger_than(campaign_id, settings.FIRSTCOME_CAMPAIGN_STALE_S)


def campaign_sold_out_seen(campaign_id: int) -> None:
    """A SOLD_OUT decision of the campaign was committed (campaigns.answers reads the decision
    events): its stock is 0 for good, known here before the cached window expires."""
    if len(_sold_out) > 10_000:  # a bound: forgetting only costs a database read
        _sold_out.clear()
    _sold_out.add(campaign_id)


async def campaign_window_async(campaign_id) -> CampaignWindow:
    """campaign_window() on an event loop: from the cache, or read in the loop's executor (the
    database is synchronous), whose thread then gives its connection back like a request would."""
    known, stale = _known_without_reading(campaign_id)
    if known:
        return known
    # One read per campaign at a time: when the entry expires, every request in flight misses at
    # once, and each reading for itself queued dozens of reads on the executor every second
    # (seen as the p99 of the ingest benchmark).
    loop = asyncio.get_running_loop()
    reading = _reading.get(campaign_id)
    if reading is None or reading.get_loop() is not loop:
        reading = _reading[campaign_id] = loop.run_in_executor(None, _campaign_window_then_release, campaign_id)
        reading.add_done_callback(lambda done: _reading.pop(campaign_id, None) if _reading.get(campaign_id) is done
                                  else None)
    if stale is None:
        return await asyncio.shield(reading)
    # A known window: a database that does not answer at once (a failover's connection attempts)
    # does not hold the request; the read goes on and its outcome serves the next ones.
    try:
        return await asyncio.wait_for(asyncio.shield(reading), timeout=STALE_READ_WAIT_S)
    except TimeoutError:
        STALE_WINDOWS.inc()
        return stale


# How long a request with a known (expired) window waits for its re-read before using it.
STALE_READ_WAIT_S = 0.25
_reading = {}  # campaign id -> the read in flight (campaign_window_async)


def _campaign_window_then_release(campaign_id):
    close_old_connections()  # what Django does at the start and the end of a request
    try:
        return campaign_window(campaign_id)
    finally:
        close_old_connections()


def campaign_window_cache_clear():
    _windows.clear()
    _sold_out.clear()
    _unreadable_until.clear()


def campaign_ids_existing(campaign_ids) -> set:
    return set(Campaign.objects.filter(pk__in=set(campaign_ids)).values_list("pk", flat=True))


def users_with_decisions(campaign_id, user_ids) -> set:
    """Which of these users already have their decision for the campaign. The batch decider asks
    this for thousands of users per transaction: on MySQL the IN list is built from the driver's
    escaped literals directly (Django's per-parameter adaptation cost more than the lookups)."""
    user_ids = list(user_ids)
    if connection.vendor != "mysql":
        return set(Participation.objects.filter(campaign_id=campaign_id, user_id__in=user_ids, is_decision=True)
                   .values_list("user_id", flat=True))
    escape = connection.connection.string_literal
    sql = ("SELECT user_id FROM %s WHERE campaign_id = %%d AND is_decision = 1 AND user_id IN (%%s)"
           % connection.ops.quote_name(Participation._meta.db_table)).encode()
    found = set()
    with connection.cursor() as cursor:
        for start in range(0, len(user_ids), 5000):
            chunk = b",".join(escape(u.encode()) for u in user_ids[start:start + 5000])
            cursor.execute(sql % (int(campaign_id), chunk))
            found.update(user_id for (user_id,) in cursor.fetchall())
    return found


RESULT_FIELDS = ("request_id", "campaign_id", "user_id", "status", "coupon_code")


def participation_get(request_id):
    """The processed request, or None while it is still in Kafka."""
    return Participation.objects.filter(request_id=request_id).values(*RESULT_FIELDS).first()


def participation_ids_decided(request_ids) -> set[uuid.UUID]:
    """Which of these request ids the consumer has recorded (a decision or a DUPLICATE)."""
    request_ids = list(request_ids)
    found = set()
    for start in range(0, len(request_ids), 5000):  # the unique request_id index, a chunk at a time
        found.update(Participation.objects.filter(request_id__in=request_ids[start:start + 5000])
                     .values_list("request_id", flat=True))
    return found


def user_decision_get(campaign_id, user_id):
    """The user's one decision for the campaign (SUCCESS or SOLD_OUT), or None."""
    return (Participation.objects
            .filter(campaign_id=campaign_id, user_id=user_id, is_decision=True)
            .values(*RESULT_FIELDS).first())


def coupon_get(code: str):
    """The participation holding a coupon code (a valid one: campaigns.coupons.coupon_code_read),
    as {coupon_code, request_id, campaign_id, user_id, redeemed_at}; None if no winner has it."""
    return (Participation.objects.filter(coupon_code=code)
            .values("coupon_code", "request_id", "campaign_id", "user_id", "redeemed_at").first())


# Campaign ids per `campaign_id IN (...)` of a lookup driven by campaign: short enough that MySQL
# still dives into the index for each (eq_range_index_dive_limit, 200) and that MariaDB keeps it a
# list (in_predicate_conversion_threshold, 1,000), so each stays one index range per campaign.
CAMPAIGNS_PER_LOOKUP = 200


def campaign_id_chunks() -> Iterator[list[int]]:
    """Every campaign's id, CAMPAIGNS_PER_LOOKUP at a time, in id order."""
    last = 0
    while chunk := list(Campaign.objects.filter(pk__gt=last).order_by("pk")
                        .values_list("pk", flat=True)[:CAMPAIGNS_PER_LOOKUP]):
        yield chunk
        last = chunk[-1]


def participation_ids_matching(*, term: str) -> list[int]:
    """The participations whose user id (byte for byte, in any campaign), request id or coupon
    code (typed as on the coupon) is exactly `term`, each found through its own index in its own
    query (an OR across indexes is left to the planner's mood). A user id leads no index: it is
    looked up after each campaign id in the (campaign, user_id, is_decision) key."""
    alternatives = [Q(campaign_id__in=chunk, user_id=term) for chunk in campaign_id_chunks()]
    try:
        alternatives.append(Q(request_id=uuid.UUID(term)))
    except ValueError:
        pass
    try:
        alternatives.append(Q(coupon_code=coupon_code_read(term)))
    except CouponCodeInvalid:
        pass
    return sorted({pk for alternative in alternatives
                   for pk in Participation.objects.filter(alternative).values_list("pk", flat=True)})


def coupons_redeemed(campaign_id) -> int:
    """How many of a campaign's coupons were redeemed: one range of the (campaign, redeemed_at)
    index, whatever other campaigns hold. Asked by the dashboard every second per viewer."""
    return Participation.objects.filter(campaign_id=campaign_id, redeemed_at__isnull=False).count()


def outcome_counts(campaign_id) -> dict:
    """{SUCCESS: n, SOLD_OUT: n, DUPLICATE: n} for one campaign (index range scan)."""
    counts = dict.fromkeys(Participation.Status.values, 0)
    rows = (Participation.objects.filter(campaign_id=campaign_id)
            .values_list("status").annotate(n=Count("id")).order_by())
    counts.update(dict(rows))
    return counts


def outcome_counters(campaign: Campaign) -> dict:
    """The same numbers as outcome_counts, from the counters on the campaign row that the decision
    keeps: no participation row is read, however many there are."""
    return {Participation.Status.SUCCESS: campaign.total_stock - campaign.remaining_stock,
            Participation.Status.SOLD_OUT: campaign.sold_out_count,
            Participation.Status.DUPLICATE: campaign.duplicate_count}


def users_with_several_coupons(campaign_id) -> int:
    """Users holding more than one SUCCESS for a campaign: 0, or the guarantees are broken."""
    return (Participation.objects.filter(campaign_id=campaign_id, status=Participation.Status.SUCCESS)
            .values("user_id").annotate(n=Count("id")).filter(n__gt=1).count())


def decision_window(campaign_id):
    """(first received_at, last decided_at) over a campaign's rows: from the first request the
    API received to the last decision. (None, None) while nothing is decided."""
    window = Participation.objects.filter(campaign_id=campaign_id).aggregate(
        first=Min("received_at"), last=Max("decided_at"))
    return window["first"], window["last"]

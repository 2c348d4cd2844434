"""Answers about decided requests, given on the event loop (campaigns.ingest) without a database
query in the common case, and the rules both paths share with the DRF views (campaigns.views).

- The result of a request: each web process keeps the latest decisions in a size-capped cache,
  fed by the decisions topic (campaigns.results_feed). A hit is answered at once; a miss goes to
  the DRF view, which reads the database, so what is answered never differs from it.
- Long polling (`?wait=S`): a request waits on a future keyed by its id, woken by the decision's
  event; the database is read when the wait starts, when the feed had a gap, and at the deadline
  (then by the DRF view itself). The waiters of a process are capped (ResultWaiters).

Sold out at the door (a participation refused at once once the stock is gone) is
campaigns.submission's rule; the refusals are counted by campaigns.refusals.
"""
import asyncio
import re
import uuid
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor

import orjson
from django.db import DatabaseError, InterfaceError, close_old_connections
from prometheus_client import Counter, Gauge
from rest_framework.exceptions import ValidationError

from campaigns import selectors
from campaigns.errors import TooManyWaiters
from campaigns.participants import may_see
from campaigns.request_ids import is_issued_here

MAX_WAIT_S = 30
# Seconds as digits, with up to three decimals: no exponent, sign, nan or inf to reason about.
_WAIT = re.compile(r"[0-9]{1,2}(\.[0-9]{1,3})?")


def wait_seconds(values: list[str]) -> float | None:
    """The `wait` query parameter's values (request.query_params.getlist("wait")) → seconds, None
    when absent; ValidationError naming the rule otherwise. One rule for both paths."""
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError({"wait": "give wait once"})
    seconds = float(values[0]) if _WAIT.fullmatch(values[0]) else 0.0
    if not 0 < seconds <= MAX_WAIT_S:
        raise ValidationError({"wait": f"seconds to wait, more than 0 and at most {MAX_WAIT_S} "
                                       "(digits, up to three decimals)"})
    return seconds


def result_body(result) -> bytes:
    """ParticipationResultSerializer's data as DRF's JSONRenderer writes it (compact, not ASCII-
    escaped, U+2028/U+2029 escaped), for a result mapping (a decision event, a database row)."""
    body = orjson.dumps({"request_id": str(result["request_id"]), "campaign_id": result["campaign_id"],
                         "user_id": result["user_id"], "status": result["status"],
                         "coupon_code": result.get("coupon_code")})
    return body.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")


def pending_body(request_id: uuid.UUID) -> bytes:
    return result_body({"request_id": request_id, "campaign_id": None, "user_id": None, "status": "PENDING"})


DUPLICATE = "DUPLICATE"
SOLD_OUT = "SOLD_OUT"


class ResultCache:
    """The latest decisions of this process, as (owner, the answer's body): by request id, and
    each user's decision by (campaign id, user id). Size-capped: the oldest entry goes first.
    Only the owner and the body are kept: a few hundred bytes an entry."""

    def __init__(self, *, size: int):
        self.size = size
        self.by_request = OrderedDict()  # str(request id) -> (user id, body)
        self.by_user = OrderedDict()  # (campaign id, user id) -> body

    def add(self, event: dict) -> tuple[str, bytes]:
        """The event's (owner, answer body), kept unless the cache is off."""
        answer = event["user_id"], result_body(event)
        if self.size > 0:
            _put(self.by_request, event["request_id"], answer, self.size)
            if event["status"] != DUPLICATE:  # a DUPLICATE is not the user's decision
                _put(self.by_user, (event["campaign_id"], event["user_id"]), answer[1], self.size)
        return answer

    def __len__(self):
        return len(self.by_request)


def _put(entries: OrderedDict, key, value, size):
    entries[key] = value
    entries.move_to_end(key)  # a redelivered event is the newest
    if len(entries) > size:  # OrderedDict: dropping the oldest costs the same at any size
        entries.popitem(last=False)


WAITING = Gauge("firstcome_result_waiters", "Result requests waiting for their decision (?wait=S), this process.",
                multiprocess_mode="livesum")
RESULT_ANSWERS = Counter("firstcome_result_requests_total",
                         "Result GETs by who answered: cache (the fast path's decisions), woken (a waiter "
                         "answered by the decision's event), not_issued (404 at the door), too_many_waiters, "
                         "django (handed to the DRF view).", ["answer"])
_result_answered = {name: RESULT_ANSWERS.labels(name)
                    for name in ("cache", "woken", "not_issued", "too_many_waiters", "django")}


class ResultWaiters:
    """Futures of the requests waiting for their decision, keyed by request id, at most `limit`
    at a time. Lives on the event loop: only its thread touches it."""

    RECHECK = "recheck"  # what a future gets when the feed had a gap: read the database
    RELEASED = "released"  # the server stops: answer PENDING now

    def __init__(self, *, limit: int):
        self.limit = limit
        self.waiting = defaultdict(list)  # str(request id) -> [future]
        self.count = 0

    def add(self, request_id: str) -> asyncio.Future | None:
        """A future for the decision; None past the limit."""
        if self.count >= self.limit:
            return None
        future = asyncio.get_running_loop().create_future()
        self.waiting[request_id].append(future)
        self.count += 1
        WAITING.inc()
        return future

    def remove(self, request_id: str, future: asyncio.Future) -> None:
        futures = self.waiting.get(request_id)
        if futures and future in futures:
            futures.remove(future)
            self.count -= 1
            WAITING.dec()
            if not futures:
                del self.waiting[request_id]

    def wake(self, request_id: str, outcome) -> None:
        for future in self.waiting.get(request_id, ()):
            if not future.done():
                future.set_result(outcome)

    def wake_all(self, outcome) -> None:
        for futures in self.waiting.values():
            for future in futures:
                if not future.done():
                    future.set_result(outcome)




# --- the result endpoints on the event loop ---------------------------------------------------

NOT_ISSUED = "unknown request id"  # the 404 of an id this system never issued, on both paths
NOT_ISSUED_BODY = orjson.dumps({"detail": NOT_ISSUED})
TOO_MANY_WAITERS = TooManyWaiters("too many requests are waiting for their decision on this server; retry")
RESULT_PATH = re.compile(r"/api/participations/([^/]+)")  # Django's <str:request_id>
USER_DECISION_PATH = re.compile(r"/api/campaigns/([0-9]+)/participations/(.+)")  # <int>/<path>, as Django matches it
SIMPLE_WAIT = re.compile(rb"wait=[0-9.]{1,8}")  # any other query string is Django's to read


class ResultAnswers:
    """The result GETs answered on the event loop: from the cache of decisions, by waiting for a
    decision's event, or by handing the request to the DRF view (`to_django`), which answers
    exactly as it always has. One per process, created on the loop's thread."""

    def __init__(self, *, cache_size: int, max_waiters: int, feed_factory=None):
        self.cache = ResultCache(size=cache_size)
        self.waiters = ResultWaiters(limit=max_waiters)
        self._feed_factory = feed_factory  # (on_events=, on_gap=) -> DecisionFeed
        self.feed = None
        self._loop = None
        self._released = False

    def start(self) -> None:
        """On the loop's first request: the feed's thread hands its events to this loop."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        if self._feed_factory is not None:
            self.feed = self._feed_factory(on_events=self._on_loop(self.decided), on_gap=self._on_loop(self.gap))
            self.feed.start()

    def _on_loop(self, function):
        loop = self._loop
        return lambda *args: loop.call_soon_threadsafe(function, *args)

    def decided(self, events: list[dict]) -> None:
        for event in events:
            answer = self.cache.add(event)
            if event["status"] == SOLD_OUT:  # committed with no stock left: it never comes back
                selectors.campaign_sold_out_seen(event["campaign_id"])
            if self.waiters.count:
                self.waiters.wake(event["request_id"], answer)

    def gap(self) -> None:
        """The feed (re)started reading: what it may have missed is read from the database."""
        self.waiters.wake_all(ResultWaiters.RECHECK)

    def release(self) -> None:
        """The server stops: every waiter answers PENDING now (the client asks again elsewhere)."""
        self._released = True
        self.waiters.wake_all(ResultWaiters.RELEASED)
        if self.feed is not None:
            self.feed.stop()

    async def result(self, *, request_id: str, query: bytes, respond, to_django, viewer: str | None = None) -> None:
        """GET /api/participations/{request_id}[?wait=S], for `viewer` (the token's user; None in
        body mode): a decision of someone else's is answered as an id never issued."""
        try:
            request_id = uuid.UUID(request_id)
        except ValueError:
            return await to_django(None)
        if not is_issued_here(request_id):
            _result_answered["not_issued"].inc()
            return await respond(404, NOT_ISSUED_BODY)
        wait = None
        if query:
            try:
                wait = wait_seconds([query[5:].decode()]) if SIMPLE_WAIT.fullmatch(query) else "django"
            except ValidationError:
                wait = "django"
            if wait == "django":  # its 400, or a parameter only Django reads
                return await to_django(None)
        answer = self.cache.by_request.get(str(request_id))
        if answer is not None:
            _result_answered["cache"].inc()
            return await _answer_to(viewer, answer, respond)
        if wait is None or self._released:  # stopping: no new waiter, the view reads once
            return await to_django(None if wait is None else b"")
        await self._wait(request_id, wait, viewer, respond, to_django)

    async def user_decision(self, *, campaign_id: int, user_id: str, respond, to_django,
                            viewer: str | None = None) -> None:
        """GET /api/campaigns/{id}/participations/{user_id}: a cached decision of the viewer's own,
        or the view (which answers anyone else that there is none)."""
        body = self.cache.by_user.get((campaign_id, user_id))
        if body is None or not may_see(owner=user_id, viewer=viewer):
            return await to_django(None)
        _result_answered["cache"].inc()
        await respond(200, body)

    async def _wait(self, request_id, wait, viewer, respond, to_django):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        key = str(request_id)
        future = self.waiters.add(key)
        if future is None:
            _result_answered["too_many_waiters"].inc()
            return await respond(TOO_MANY_WAITERS.http_status, orjson.dumps(TOO_MANY_WAITERS.body()),
                                 [(b"retry-after", str(TOO_MANY_WAITERS.retry_after).encode())])

        def take():  # the woken future's news; a fresh future for the next
            nonlocal future
            news = future.result()
            self.waiters.remove(key, future)
            future = self.waiters.add(key)  # room: this key's waiter was just removed
            return news

        try:
            outcome = ResultWaiters.RECHECK  # the decision may be older than this process's cache
            while True:
                if outcome is ResultWaiters.RELEASED:
                    return await respond(200, pending_body(request_id))
                if outcome is ResultWaiters.RECHECK:
                    try:
                        row = await loop.run_in_executor(_RESULT_READS, _participation_row, request_id)
                    except (DatabaseError, InterfaceError):  # the database is away: wait for the event
                        row = None
                    if row is not None:
                        return await _answer_to(viewer, (row["user_id"], result_body(row)), respond)
                    if future.done():  # woken while reading (the decision, a gap, the stop)
                        outcome = take()
                        continue
                else:  # the decision's (owner, answer), from its event
                    _result_answered["woken"].inc()
                    return await _answer_to(viewer, outcome, respond)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                done, _ = await asyncio.wait({future}, timeout=remaining)
                if not done:
                    break
                outcome = take()
        finally:
            self.waiters.remove(key, future)
        # The deadline: the view reads the database once more and answers (PENDING, most likely).
        await to_django(b"")


async def _answer_to(viewer, answer, respond):
    """A decided result to `viewer`: its body for its owner, 404 as never issued for anyone else."""
    owner, body = answer
    if may_see(owner=owner, viewer=viewer):
        return await respond(200, body)
    return await respond(404, NOT_ISSUED_BODY)


# The waiters' database reads get threads of their own, a few: a feed gap wakes every waiter to
# read at once, and they must not queue ahead of the participation path's campaign-window reads
# in the loop's default executor (campaigns.selectors.campaign_window_async).
_RESULT_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="result-reads")


def _participation_row(request_id):
    close_old_connections()  # what Django does at the start and the end of a request
    try:
        return selectors.participation_get(request_id)
    finally:
        close_old_connections()


def count_result_handed_to_django() -> None:
    _result_answered["django"].inc()

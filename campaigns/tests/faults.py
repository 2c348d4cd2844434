"""What every fault scenario shares: requests published the way the API publishes them, the
dead-letter topic read back, a TCP proxy that can cut the consumer off its database, and THE
invariant checker run after each scenario."""
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from campaigns import selectors
from campaigns.messages import encode_participation, message_key
from campaigns.models import Campaign, Participation
from campaigns.request_ids import new_request_id
from conftest import read_topic
from streaming.producer import publish_many
from streaming.topics import committed_offsets


@dataclass(frozen=True)
class Published:
    """Requests the broker acknowledged (the '202' set): request id → user id."""
    users_by_request: dict

    @property
    def request_ids(self):
        return set(self.users_by_request)

    @property
    def users(self):
        return set(self.users_by_request.values())


def publish_requests(campaign, user_ids, *, chunk=2000):
    """Publish one participation request per user id straight to the participation topic, with
    the API's encoder, key and producer (streaming.producer: idempotent, acks=all): exactly what
    participation_submit sends, without the HTTP and database round trip per request. Returns
    once the broker has acknowledged every one."""
    users_by_request = {}
    user_ids = list(user_ids)
    for start in range(0, len(user_ids), chunk):
        messages = []
        for user_id in user_ids[start:start + chunk]:
            request_id = new_request_id()
            users_by_request[str(request_id)] = user_id
            messages.append((message_key(campaign.pk, user_id, settings.FIRSTCOME_MESSAGE_KEY),
                             encode_participation(request_id, campaign.pk, user_id, timezone.now()), None))
        publish_many(settings.FIRSTCOME_TOPIC, messages, timeout_ms=30_000)
    return Published(users_by_request)


class StreamPublisher(threading.Thread):
    """publish_requests in the background, `chunk` users every `interval` seconds, so that the
    faults a test injects meanwhile land in the middle of a live stream. join() → Published."""

    def __init__(self, campaign, user_ids, *, chunk=250, interval=0.25):
        super().__init__(daemon=True, name="stream-publisher")
        self.campaign, self.user_ids, self.chunk, self.interval = campaign, list(user_ids), chunk, interval
        self.users_by_request = {}
        self.error = None

    def run(self):
        try:
            for start in range(0, len(self.user_ids), self.chunk):
                began = time.monotonic()
                sent = publish_requests(self.campaign, self.user_ids[start:start + self.chunk])
                self.users_by_request.update(sent.users_by_request)
                time.sleep(max(self.interval - (time.monotonic() - began), 0))
        except Exception as exc:  # reported by join(), in the test's thread
            self.error = exc

    def join(self, timeout=None):
        super().join(timeout)
        if self.error:
            raise self.error
        return Published(dict(self.users_by_request))


def dead_letters(expected, *, timeout=30):
    """The dead-letter topic's messages as {(source partition, source offset): reason}, once
    `expected` distinct source records are there (a redelivered poison record may appear twice)."""
    found = {}

    def enough(messages):
        for message in messages:
            headers = dict(message.headers)
            found[(int(headers["source_partition"]), int(headers["source_offset"]))] = headers["reason"].decode()
        return len(found) >= expected

    if expected:
        read_topic(settings.FIRSTCOME_DLQ_TOPIC, until=enough, timeout=timeout)
    return found


@dataclass
class InvariantReport:
    issued: int
    total_stock: int
    remaining_stock: int
    decided: int
    outcomes: dict
    committed: dict
    violations: list = field(default_factory=list)

    def summary(self):
        return (f"{self.decided} decided ({', '.join(f'{k} {v}' for k, v in sorted(self.outcomes.items()))}), "
                f"issued {self.issued} of {self.total_stock}, committed offsets {self.committed}, "
                f"violations: {self.violations or 'none'}")


def committed_offset_violations(group_id, topic, dead_lettered=()):
    """Partitions whose committed offset runs ahead of the database: for a committed offset c,
    every record below c must have its participation row (or be in the dead-letter topic)."""
    violations = []
    for partition, committed in sorted(committed_offsets(group_id, topic).items()):
        recorded = set(Participation.objects.filter(topic=topic, partition=partition, offset__lt=committed)
                       .values_list("offset", flat=True))
        recorded.update(offset for p, offset in dead_lettered if p == partition)
        missing = committed - len(recorded & set(range(committed)))
        if missing:
            first = min(set(range(committed)) - recorded)
            violations.append(f"partition {partition}: offset {committed} committed but {missing} record(s) "
                              f"below it have no row, the first at {first}")
    return violations


def check_invariants(campaign, published, *, group_id=None, topic=None, dead_lettered=(),
                     extra_requesters=()):
    """THE invariants, after any scenario; returns the report, raises AssertionError listing every
    violation.

    - issued coupons = total_stock - remaining_stock <= total_stock;
    - no user holds two coupons (or two decisions) for the campaign;
    - every request of `published` (the 202s) has exactly one outcome, and every decided request
      was sent by someone: every decided user, winners included, is a requester (`extra_requesters`: users whose
      request was answered 503 but may still have reached the broker);
    - the group's committed offsets never run ahead of what the database committed.
    """
    group_id = group_id or settings.FIRSTCOME_GROUP_ID
    topic = topic or settings.FIRSTCOME_TOPIC
    campaign = Campaign.objects.get(pk=campaign.pk)
    rows = Participation.objects.filter(campaign=campaign)
    outcomes = selectors.outcome_counts(campaign.pk)
    issued = outcomes["SUCCESS"]
    violations = []

    if issued != campaign.total_stock - campaign.remaining_stock:
        violations.append(f"{issued} SUCCESS rows but the stock moved by {campaign.total_stock - campaign.remaining_stock}")
    if issued > campaign.total_stock:
        violations.append(f"oversold: {issued} coupons for a stock of {campaign.total_stock}")
    several = selectors.users_with_several_coupons(campaign.pk)
    if several:
        violations.append(f"{several} user(s) hold more than one coupon")
    several_decisions = (rows.filter(is_decision=True).values("user_id").annotate(n=Count("id"))
                         .filter(n__gt=1).count())
    if several_decisions:
        violations.append(f"{several_decisions} user(s) have more than one decision")

    decided = {str(rid): user for rid, user in rows.values_list("request_id", "user_id")}
    per_request = rows.values("request_id").annotate(n=Count("id")).filter(n__gt=1).count()
    if per_request:
        violations.append(f"{per_request} request(s) decided more than once")
    undecided = published.request_ids - set(decided)
    if undecided:
        violations.append(f"{len(undecided)} accepted request(s) never decided, e.g. {sorted(undecided)[:3]}")
    wrong_user = [rid for rid, user in decided.items()
                  if rid in published.users_by_request and published.users_by_request[rid] != user]
    if wrong_user:
        violations.append(f"{len(wrong_user)} request(s) decided for another user")
    requesters = published.users | set(extra_requesters)
    strangers = {user for user in decided.values() if user not in requesters}
    if strangers:
        violations.append(f"{len(strangers)} decided user(s) never sent a request, e.g. {sorted(strangers)[:3]}")

    violations += committed_offset_violations(group_id, topic, dead_lettered)
    report = InvariantReport(issued=issued, total_stock=campaign.total_stock,
                             remaining_stock=campaign.remaining_stock, decided=len(decided),
                             outcomes=outcomes, committed=committed_offsets(group_id, topic),
                             violations=violations)
    print(f"invariants: {report.summary()}")  # shown with -s, and in docs/guarantees.md's table
    assert not violations, report.summary()
    return report


class TcpProxy:
    """A TCP forwarder on a free loopback port, in front of a real server (here: the shared
    MariaDB, which the tests must never stop). cut() closes every forwarded connection and
    refuses new ones, as a dead server or a severed network would; restore() lets them in again.
    Threads, not asyncio: a handful of connections, and no event loop to share with the test."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections = set()
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                self._reset(client)  # refused: the client sees a dropped connection at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._reset(client)
                continue
            with self._lock:
                if not self._open.is_set():  # cut while connecting: cut() could not see this pair
                    self._reset(client)
                    self._reset(upstream)
                    continue
                self._connections.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    @staticmethod
    def _reset(sock):
        # shutdown() first: close() alone leaves the connection open while another thread is
        # blocked in recv() on it, and MariaDB would keep that session's transaction, and the
        # campaign row lock it holds, for hours (wait_timeout).
        for step in (lambda: sock.shutdown(socket.SHUT_RDWR),
                     lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
                     sock.close):
            try:
                step()
            except OSError:
                pass

    def _drop(self, *socks):
        with self._lock:
            for sock in socks:
                self._connections.discard(sock)
                self._reset(sock)

    def cut(self):
        self._open.clear()
        with self._lock:
            socks = list(self._connections)
        self._drop(*socks)

    def restore(self):
        self._open.set()

    def close(self):
        self._closed = True
        self.cut()
        self._listener.close()

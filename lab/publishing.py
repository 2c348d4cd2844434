"""Synthetic participation requests published the way the API publishes them: the API's encoder,
message key and producer (streaming.producer: one idempotent acks=all producer per process, the
API's linger), without the HTTP and database round trip per request. The one publisher of the
experiments, the benchmarks and the tests (testsupport.publishing).

Two shapes of topic: publish_burst sends large batches from one producer (a bulk load);
publish_like_web sends one request at a time from several processes, each with a few requests
in flight, as the web tier's workers do, so the topic holds many small producer batches."""
import asyncio
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Sequence

from django.utils import timezone

from campaigns.messages import encode_participation, message_key
from campaigns.request_ids import new_request_id
from streaming.producer import publish_async, publish_many

PUBLISH_TIMEOUT_MS = 30_000  # per chunk: a burst's chunk waits behind the ones already in flight


def publish_participations(*, topic: str, requests: Iterable[tuple[int, str]], key_by: str,
                           chunk: int = 2000) -> dict[str, str]:
    """Publish one request per (campaign id, user id), `chunk` at a time, each chunk acknowledged
    by the broker before the next; returns {request id: user id} of what was acknowledged."""
    users_by_request, messages = {}, []

    def flush():
        publish_many(topic, messages, timeout_ms=PUBLISH_TIMEOUT_MS)
        messages.clear()

    for campaign_id, user_id in requests:
        request_id = new_request_id()
        users_by_request[str(request_id)] = user_id
        messages.append((message_key(campaign_id, user_id, key_by),
                         encode_participation(request_id, campaign_id, user_id, timezone.now()), None))
        if len(messages) >= chunk:
            flush()
    if messages:
        flush()
    return users_by_request


def burst_requests(*, campaign_ids: Sequence[int], users: int, count: int, start: int = 0, step: int = 1):
    """The burst's (campaign id, user id) pairs with index start, start + step, … below count:
    campaigns in turn, users spread so that most of them ask more than once when count > users."""
    for i in range(start, count, step):
        yield campaign_ids[i % len(campaign_ids)], f"user-{(i * 7919) % users}"


def publish_burst(*, topic: str, campaign_ids: Sequence[int], users: int, count: int, key_by: str,
                  publishers: int = 1) -> tuple[float, float]:
    """`count` requests from `users` users over `publishers` concurrent clients; returns the wall
    times of the first send and of the last acknowledgement."""
    started = time.time()

    def client(index):
        publish_participations(topic=topic, key_by=key_by, requests=burst_requests(
            campaign_ids=campaign_ids, users=users, count=count, start=index, step=publishers))

    with ThreadPoolExecutor(publishers) as pool:
        list(pool.map(client, range(publishers)))
    return started, time.time()


def publish_like_web(*, topic: str, campaign_ids: Sequence[int], users: int, count: int, key_by: str,
                     processes: int = 4, in_flight: int = 4) -> tuple[float, float]:
    """`count` requests of burst_requests from `processes` forked processes, each sending one
    request at a time with `in_flight` awaiting their acknowledgement (publish_async, the fast
    path's call); returns the wall times of the first send and of the last acknowledgement."""
    started = time.time()
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_web_worker, daemon=True,
                                args=(topic, list(campaign_ids), users, count, key_by, index, processes, in_flight))
                for index in range(processes)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    if failed := [child.exitcode for child in children if child.exitcode]:
        raise RuntimeError(f"{len(failed)} publishing process(es) failed: exit codes {failed}")
    return started, time.time()


def _web_worker(topic, campaign_ids, users, count, key_by, index, step, in_flight):
    requests = iter(burst_requests(campaign_ids=campaign_ids, users=users, count=count, start=index, step=step))

    async def sender():
        for campaign_id, user_id in requests:
            await publish_async(topic, encode_participation(new_request_id(), campaign_id, user_id, timezone.now()),
                                key=message_key(campaign_id, user_id, key_by))

    async def main():
        await asyncio.gather(*(sender() for _ in range(in_flight)))

    asyncio.run(main())

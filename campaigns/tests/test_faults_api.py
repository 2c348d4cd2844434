"""The broker stopped while gunicorn is under load, and a new one started on the same port."""
import time

import pytest

from campaigns.models import Participation
from lab.embedded import EmbeddedBroker
from streaming.producer import reset_producer
from streaming.topics import ensure_topics
from testsupport.factories import CampaignFactory
from testsupport.invariants import check_invariants
from testsupport.load import Load
from testsupport.kafka import committed_total
from testsupport.polling import poll
from testsupport.publishing import Published, publish_requests
from testsupport.web import start_gunicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

def test_broker_stopped_under_load_then_replaced(processes, child_env, settings, tmp_path):
    """A test-owned broker (the session's is shared): stopped under load, then a new, empty one
    started on the same port, as a restarted embedded broker would be."""
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log").start()
    settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
    topics = {settings.FIRSTCOME_TOPIC: 1, settings.FIRSTCOME_DLQ_TOPIC: 1, settings.FIRSTCOME_DECISIONS_TOPIC: 1}
    replacement, load = None, None
    try:
        ensure_topics(topics)
        campaign = CampaignFactory(total_stock=1_000)
        web, base_url = start_gunicorn(processes, child_env(), workers=2)
        consumer = processes("consume_firstcome")
        poll(lambda: "assigned partitions" in consumer.log_text(), message="the consumer in its group")
        load = Load(base_url, campaign)
        load.start()
        poll(lambda: sum(a.status == 202 for a in load.answers) >= 300
             and Participation.objects.filter(campaign=campaign).exists(), timeout=60, message="load flowing")

        broker.stop()  # SIGINT: Tansu exits at once, with everything it held
        stopped_at = time.monotonic()
        time.sleep(6)
        replacement = EmbeddedBroker(port=broker.port, log_path=tmp_path / "tansu-2.log")
        restarted_at = time.monotonic()
        replacement.start()
        ensure_topics(topics)  # it starts empty: no topic, no group, no offset
        back_at = time.monotonic()
        poll(lambda: sum(a.status == 202 and a.sent > back_at for a in load.answers) >= 300, timeout=60,
             message="202s again after the new broker")
        answers = load.stop()

        # Never a hang or an error page: every request answered 202 or 503, each 503 within 2 s.
        assert {a.status for a in answers} <= {202, 503}, sorted({a.status for a in answers})
        refused = [a for a in answers if a.status == 503]
        assert refused, "no request was refused while the broker was down"
        slowest_503 = max(a.seconds for a in refused)
        assert slowest_503 < 2, slowest_503
        # While no broker ran, nothing was acknowledged, so nothing got a 202.
        outage = [a for a in answers if a.sent > stopped_at and a.answered < restarted_at]
        assert outage and all(a.status == 503 for a in outage)

        after = Published({a.request_id: a.user_id for a in answers if a.status == 202 and a.sent > back_at})
        before = {a.request_id: a.user_id for a in answers if a.status == 202 and a.answered < stopped_at}
        poll(lambda: Participation.objects.filter(request_id__in=list(after.request_ids)).count() == len(after.request_ids),
             timeout=60, message="every 202 after the new broker decided")
        poll(lambda: committed_total()
             >= len(after.request_ids), timeout=30, message="the new broker's offsets committed")
        assert consumer.alive() and web.alive()
        decided_before = Participation.objects.filter(request_id__in=list(before)).count()
        lost = len(before) - decided_before  # still in the old broker's memory when it stopped
        print(f"broker outage: {len(answers)} requests, {len(before)} accepted before the stop "
              f"({lost} of them not yet consumed and lost with the embedded broker), {len(outage)} during "
              f"it, all 503 (slowest {slowest_503 * 1000:.0f} ms), {len(after.request_ids)} accepted after")
        check_invariants(campaign, after, extra_requesters={a.user_id for a in answers})
    finally:
        if load:
            load.stop()
        reset_producer()
        for b in (replacement, broker):
            if b:
                b.stop()


def test_consumer_waits_out_a_broker_gone_while_it_joins(processes, settings, tmp_path):
    """The broker stopped while the consumer joins its group, then a new one started. Depending on
    where the join is, kafka-python's poll() retries by itself or raises (the coordinator cannot be
    found: the consumer used to exit on it, 1 run in 4 here); either way it must come back
    and decide what the new broker holds."""
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log").start()
    settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
    topics = {settings.FIRSTCOME_TOPIC: 1, settings.FIRSTCOME_DLQ_TOPIC: 1, settings.FIRSTCOME_DECISIONS_TOPIC: 1}
    replacement = None
    try:
        ensure_topics(topics)
        campaign = CampaignFactory(total_stock=10)
        consumer = processes("consume_firstcome")
        poll(lambda: "starting" in consumer.log_text(), message="the consumer starting")
        broker.stop()
        poll(lambda: "ECONNREFUSED" in consumer.log_text(), timeout=30, message="the consumer meeting the outage")
        replacement = EmbeddedBroker(port=broker.port, log_path=tmp_path / "tansu-2.log").start()
        ensure_topics(topics)
        published = publish_requests(campaign, [f"u{i}" for i in range(20)])
        poll(lambda: Participation.objects.filter(campaign=campaign).count() == 20 or not consumer.alive(),
             timeout=60, message="the requests sent to the new broker decided")
        assert consumer.stop() == 0
        check_invariants(campaign, published)
    finally:
        reset_producer()
        for b in (replacement, broker):
            if b:
                b.stop()

"""What the per-user throttle costs the participation endpoint: requests through Django (in
process, real MariaDB and embedded broker), alternately with the throttle on (the default rate;
every request from a new user, so none is refused) and off, so that both see the same machine;
and the throttle's own check, timed alone.

    .venv/bin/python -m bench.participation_throttle [--requests 5000]
"""
import argparse
import statistics
import time
import uuid

from bench._harness import print_table, setup_django


def one_request(client, campaign_id, user):
    started = time.perf_counter()
    response = client.post(f"/api/campaigns/{campaign_id}/participations", {"user_id": user},
                           content_type="application/json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 202, response.content
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.test import Client
    from rest_framework.parsers import JSONParser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from campaigns.services import campaign_create
    from campaigns.throttles import ParticipationUserThrottle
    from lab.embedded import EmbeddedBroker
    from streaming.producer import reset_producer
    from streaming.topics import ensure_topics

    with EmbeddedBroker() as broker:
        settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
        settings.FIRSTCOME_TOPIC = f"b.throttle.{uuid.uuid4().hex[:8]}"
        ensure_topics({settings.FIRSTCOME_TOPIC: 1})
        campaign = campaign_create(name="bench throttle", total_stock=1)
        client = Client()
        for i in range(200):  # DB connection, producer, code paths
            one_request(client, campaign.pk, f"warm-{i}")
        timings = {"5/s": [], "off": []}
        for i in range(args.requests):
            for rate, spent in timings.items():
                settings.FIRSTCOME_PARTICIPATION_RATE = rate
                spent.append(one_request(client, campaign.pk, f"{rate}-{i}"))
        reset_producer()

    settings.FIRSTCOME_PARTICIPATION_RATE = "5/s"
    factory = APIRequestFactory()
    requests = [Request(factory.post("/", {"user_id": f"t-{i}"}, format="json"), parsers=[JSONParser()])
                for i in range(args.requests)]
    for request in requests:
        request.data  # parsed beforehand: the endpoint parses a body once, whoever reads it first
    started = time.perf_counter()
    for request in requests:
        ParticipationUserThrottle().allow_request(request, None)
    alone = (time.perf_counter() - started) / args.requests

    off, on = statistics.median(timings["off"]), statistics.median(timings["5/s"])
    print(f"{args.requests:,} requests each way, interleaved; medians\n")
    print_table(["", "µs per request"], [
        ["endpoint, throttle off (baseline)", f"{off * 1e6:,.0f}"],
        ["endpoint, throttle on (5/s)", f"{on * 1e6:,.0f}"],
        ["the throttle check alone (mean)", f"{alone * 1e6:,.1f}"],
    ])
    print(f"\nthrottle on / off: {on / off:.3f}x; the check alone is {alone / off:.2%} of a request")


if __name__ == "__main__":
    main()

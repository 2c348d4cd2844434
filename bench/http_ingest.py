"""HTTP ingest: participation requests accepted per second by gunicorn (gunicorn.conf.py,
production settings) with every 202 backed by the broker's ack, under k6 (k6/bulk.js, 100 VUs,
15 s) on the same machine; the baseline, measured in the same run with the same k6 settings, is
/healthz: the same server answering without parsing, database or Kafka (the floor).

bulk.js is a closed loop: 100 VUs each send their next request as soon as the last is answered,
so it finds the most the server does, and its latencies are those of a saturated machine. The
last row is the open model at the target rate (k6/steady.js, --rate per second, new users
arriving whether or not earlier ones were answered): the latency users see at that load.

    .venv/bin/python -m bench.http_ingest [--vus 100] [--duration 15s] [--rate 2000] [--workers N --threads N]
"""
import argparse
import os
import uuid
from pathlib import Path

import psutil

from bench._harness import print_table, setup_django

FLOOR_SCRIPT = """
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: parseInt(__ENV.VUS, 10), duration: __ENV.DURATION,
                         summaryTrendStats: ['med', 'p(95)', 'p(99)'] };
export default function () { check(http.get(`${__ENV.BASE_URL}/healthz`), { ok: (r) => r.status === 200 }); }
export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data) }; }
"""


def measure(base_url, script, variables, name, logs, accounted, users=None):
    """One k6 run; with the CPU each party used per request: k6 (this process's waited-for
    children), the web server (master and workers) and the broker."""
    from lab.cpu import cpu_seconds
    from lab.stack import run_k6

    before = {party: cpu_seconds(procs) for party, procs in accounted.items()}
    k6_before = os.times()
    code, summary = run_k6(script, {"BASE_URL": base_url, **variables},
                           summary_path=logs / f"{name}.json", log_path=logs / f"{name}.log", timeout=600,
                           users=users)
    if summary is None or "http_req_duration" not in summary["metrics"]:
        raise SystemExit(f"k6 {name} produced no measurement (exit {code}); see {logs / f'{name}.log'}")
    m = summary["metrics"]
    duration = m["http_req_duration"]["values"]
    seconds = summary["state"]["testRunDurationMs"] / 1000
    ok = m.get("accepted", m.get("checks", {})).get("values", {})
    ok_count = ok.get("count", ok.get("passes", 0))
    k6_after, requests = os.times(), m["http_reqs"]["values"]["count"]
    per_request = 1000 / max(requests, 1)  # seconds of CPU -> ms per request
    cpu_ms = {party: (cpu_seconds(procs) - before[party]) * per_request for party, procs in accounted.items()}
    cpu_ms["k6"] = ((k6_after.children_user + k6_after.children_system)
                    - (k6_before.children_user + k6_before.children_system)) * per_request
    return {"cpu_ms": cpu_ms, "name": name, "ok": ok_count, "ok_per_s": ok_count / seconds, "p50": duration["med"],
            "p95": duration["p(95)"], "p99": duration["p(99)"], "errors": (requests - ok_count) / max(requests, 1),
            "requests": requests}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vus", type=int, default=100)
    parser.add_argument("--duration", default="15s")
    parser.add_argument("--rate", type=int, default=2000, help="arrival rate of the open-model run (requests/s)")
    parser.add_argument("--users", type=int, default=150_000,
                        help="distinct users (each with its own token) the closed-loop run may reach")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()

    from django.conf import settings
    from django.core.management import call_command

    from campaigns.services import campaign_create
    from lab.embedded import free_port
    from lab.partition_experiment import count_messages, local_servers
    from lab.stack import LocalStack, k6_users

    logs = Path("/tmp") / f"bench-http-{uuid.uuid4().hex[:6]}"
    stack = LocalStack(logs)
    try:
        stack.start_broker(port=None)
        call_command("create_topics", verbosity=0)
        floor_script = logs / "floor.js"
        floor_script.write_text(FLOOR_SCRIPT)
        web_env = {"DJANGO_SETTINGS_MODULE": "campaign_site.settings.production",
                   "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex * 2, "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                   "DJANGO_SECURE_SSL_REDIRECT": "false", "GUNICORN_ACCESS_LOG": "",
                   "GUNICORN_WORKERS": args.workers, "GUNICORN_THREADS": args.threads}
        base_url = stack.start_web(free_port(), **web_env)
        campaign = campaign_create(name="http ingest bench", total_stock=1_000_000)
        web = psutil.Process(next(child.pid for child in stack.children if child.name == "web"))
        broker = local_servers().get("broker")  # the broker this run talks to, if it runs here
        accounted = {"web": [web, *web.children()], "broker": [psutil.Process(broker)] if broker else []}
        k6 = {"VUS": args.vus, "DURATION": args.duration}
        warm_up = measure(base_url, "bulk.js", {**k6, "DURATION": "3s", "CAMPAIGN_ID": campaign.pk,
                                                "USER_PREFIX": "warm"}, "warm-up", logs, accounted,
                          users=k6_users(args.users // 4, prefix="warm"))
        floor = measure(base_url, str(floor_script), k6, "floor", logs, accounted)
        ingest = measure(base_url, "bulk.js", {**k6, "CAMPAIGN_ID": campaign.pk}, "participation", logs, accounted,
                         users=k6_users(args.users))
        at_rate = measure(base_url, "steady.js", {"RATE": args.rate, "DURATION": args.duration,
                                                  "CAMPAIGN_ID": campaign.pk}, "at-rate", logs, accounted,
                          users=k6_users(args.rate * 60, prefix="steady"))
        at_rate["name"] = f"participation at {args.rate:,}/s"
        # Every 202 stands for a message the broker holds: read the topic to its end and count.
        accepted = sum(r["ok"] for r in (warm_up, ingest, at_rate))
        held = count_messages(settings.FIRSTCOME_TOPIC, expected=accepted)
        if held < accepted:
            raise SystemExit(f"the topic holds {held:,} messages for {accepted:,} requests answered 202")
    finally:
        stack.stop()
    rows = [[r["name"], f"{r['requests']:,}", f"{r['ok_per_s']:,.0f}", f"{r['p50']:.1f}", f"{r['p95']:.1f}",
             f"{r['p99']:.1f}", f"{r['errors']:.2%}", f"{r['ok_per_s'] / floor['ok_per_s']:.2f}",
             *(f"{r['cpu_ms'][party]:.3f}" for party in ("k6", "web", "broker"))]
            for r in (floor, ingest, at_rate)]
    print(f"\nk6 {args.vus} VUs for {args.duration}, gunicorn from gunicorn.conf.py "
          f"(workers={args.workers or 'default'}, threads={args.threads or 'default'}), {os.cpu_count()} cores")
    print_table(["endpoint", "requests", "accepted/s", "p50 ms", "p95 ms", "p99 ms", "errors", "vs floor",
                 "CPU ms/req k6", "web", "broker"], rows)
    print(f"\nthe topic holds all {accepted:,} requests answered 202")
    print(f"logs: {logs}")


if __name__ == "__main__":
    setup_django()
    main()

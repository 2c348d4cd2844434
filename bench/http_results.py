"""HTTP results: GET /api/participations/{request_id} for decided requests, per second, under k6
(closed loop, --vus VUs for --duration) against gunicorn (gunicorn.conf.py, production settings),
once with the web processes' decision cache (campaigns/answers.py: answered on the event loop)
and once without it (FIRSTCOME_RESULTS_CACHE_SIZE=0: every lookup reaches the DRF view and
MariaDB, as before the cache). The requests are sent through the same server and decided by
consume_firstcome first; k6 asks for them in random order.

    .venv/bin/python -m bench.http_results [--requests 5000] [--vus 100] [--duration 10s]
"""
import argparse
import json
import os
import uuid
from pathlib import Path

from bench._harness import empty_tables, print_table, setup_django

RESULTS_SCRIPT = """
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
// [request id, its owner's token]: each lookup is made as the request's owner (identity on).
const ids = new SharedArray('ids', () => JSON.parse(open(__ENV.IDS)));
export const options = { vus: parseInt(__ENV.VUS, 10), duration: __ENV.DURATION,
                         summaryTrendStats: ['med', 'p(95)', 'p(99)'] };
export default function () {
  const [id, token] = ids[Math.floor(Math.random() * ids.length)];
  const r = http.get(`${__ENV.BASE_URL}/api/participations/${id}`, { headers: { Authorization: `Bearer ${token}` } });
  check(r, { decided: (res) => res.status === 200 && res.json('status') !== 'PENDING' });
}
export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data) }; }
"""


def owned_ids(participations):
    """[request id, a development token of its owner] of each participation (RESULTS_SCRIPT)."""
    from identity import participants

    return [[str(request_id), participants.mint(user_id, ttl_s=6 * 3600)]
            for request_id, user_id in participations.values_list("request_id", "user_id")]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--vus", type=int, default=100)
    parser.add_argument("--duration", default="10s")
    args = parser.parse_args()

    from django.core.management import call_command

    from bench.http_ingest import measure
    from campaigns.models import Participation
    from campaigns.services import campaign_create
    from lab.embedded import free_port
    from lab.stack import LocalStack, k6_users, run_k6

    logs = Path("/tmp") / f"bench-results-{uuid.uuid4().hex[:6]}"
    stack = LocalStack(logs)
    rows = []
    try:
        stack.start_broker(port=None)
        call_command("create_topics", verbosity=0)
        empty_tables()
        (logs / "results.js").write_text(RESULTS_SCRIPT)
        web_env = {"DJANGO_SETTINGS_MODULE": "campaign_site.settings.production",
                   "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex * 2, "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                   "DJANGO_SECURE_SSL_REDIRECT": "false", "GUNICORN_ACCESS_LOG": ""}
        campaign = campaign_create(name="http results bench", total_stock=args.requests)  # never sold out: every request is decided
        stack.start_consumer()
        for cache_size in ("200000", "0"):
            port = free_port()
            base_url = stack.start_web(port, **web_env, FIRSTCOME_RESULTS_CACHE_SIZE=cache_size)
            if not rows:  # the requests, sent once through the server and decided
                run_k6("bulk.js", {"BASE_URL": base_url, "CAMPAIGN_ID": campaign.pk, "N": args.requests, "VUS": 50},
                       summary_path=logs / "send.json", log_path=logs / "send.log", timeout=300,
                       users=k6_users(args.requests))
                stack.wait(lambda: Participation.objects.count() >= args.requests, timeout=120,
                           message="every request decided")
                (logs / "ids.json").write_text(json.dumps(owned_ids(Participation.objects.all())))
            variables = {"VUS": args.vus, "DURATION": args.duration, "IDS": str(logs / "ids.json")}
            name = "with the cache" if cache_size != "0" else "without (DRF view + MariaDB)"
            measure(base_url, str(logs / "results.js"), {**variables, "DURATION": "3s"}, f"warm-{cache_size}",
                    logs, {})
            rows.append({**measure(base_url, str(logs / "results.js"), variables, f"results-{cache_size}",
                                   logs, {}), "name": name})
            stack.children.pop().stop()  # this web server; the next run starts its own
    finally:
        stack.stop()
    print(f"\nk6 {args.vus} VUs for {args.duration}, {args.requests:,} decided requests, {os.cpu_count()} cores")
    print_table(["GET /api/participations/{id}", "requests", "decided/s", "p50 ms", "p95 ms", "p99 ms", "errors"],
                [[r["name"], f"{r['requests']:,}", f"{r['ok_per_s']:,.0f}", f"{r['p50']:.1f}", f"{r['p95']:.1f}",
                  f"{r['p99']:.1f}", f"{r['errors']:.2%}"] for r in rows])
    print(f"logs: {logs}")


if __name__ == "__main__":
    setup_django()
    main()

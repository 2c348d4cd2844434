"""The user's journey under load: USERS users each submit once and then ask for their result until
it is final (k6/journey.js: ?wait=S long polling where the server supports it, plain polling
otherwise), against gunicorn (gunicorn.conf.py, production settings), consume_firstcome and the
embedded broker on this machine. Two phases: while stock lasts (the stock runs out during it when
users > stock), then as many new users once the campaign is sold out.

Per phase: accepted/s and refusals at the door/s, 202 -> final answer p50/p99, result lookups/s and
their p99, the consumer's receipt -> decision p99 (from the rows), web CPU per user, and MariaDB's
Questions and Com_select per user (global counters: other clients of the server count too).

    .venv/bin/python -m bench.journey [--users 10000] [--stock 1000] [--vus 200] [--wait 5] [--poll-interval 0.2]
"""
import argparse
import re
import uuid
from pathlib import Path

import psutil

from bench._harness import print_table, setup_django


def db_counters():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_select')")
        return {name: int(value) for name, value in cursor.fetchall()}


def accepted_requests(k6_log: Path) -> dict:
    """{request id: user id} of the 202s the journey logged (RECORD=1)."""
    return dict(re.findall(r"accepted ([0-9a-f-]{36}) ([^\"\s]+)", k6_log.read_text(errors="replace")))


def run_phase(stack, base_url, campaign, name, args, web, record):
    from lab.cpu import cpu_seconds
    from lab.stack import k6_users, run_k6

    logs = stack.logs
    cpu_before, db_before = cpu_seconds([web, *web.children()]), db_counters()
    prefix = f"{name}-{uuid.uuid4().hex[:6]}"
    code, summary = run_k6("journey.js", {"BASE_URL": base_url, "CAMPAIGN_ID": campaign.pk, "USERS": args.users,
                                          "VUS": args.vus, "WAIT": args.wait, "POLL_INTERVAL": args.poll_interval,
                                          "USER_PREFIX": prefix, "RECORD": int(record)},
                           summary_path=logs / f"{name}.json", log_path=logs / f"{name}.log", timeout=3600,
                           users=k6_users(args.users, prefix=prefix))
    if summary is None:
        raise SystemExit(f"k6 {name} produced no summary (exit {code}); see {logs / f'{name}.log'}")
    cpu = cpu_seconds([web, *web.children()]) - cpu_before
    db_after = db_counters()
    m = summary["metrics"]
    seconds = summary["state"]["testRunDurationMs"] / 1000

    def count(metric):
        return m.get(metric, {}).get("values", {}).get("count", 0)

    def trend(metric, stat):
        return m.get(metric, {}).get("values", {}).get(stat, float("nan"))

    return {"phase": name, "users": args.users, "accepted": count("accepted"), "refused": count("refused_sold_out"),
            "final": count("final_answers"), "errors": count("journey_errors"), "lookups": count("lookups"),
            "seconds": seconds, "to_result_p50": trend("accepted_to_result", "med"),
            "to_result_p99": trend("accepted_to_result", "p(99)"), "lookup_p99": trend("lookup_duration", "p(99)"),
            "cpu_ms_per_user": cpu * 1000 / args.users,
            "questions_per_user": (db_after["Questions"] - db_before["Questions"]) / args.users,
            "selects_per_user": (db_after["Com_select"] - db_before["Com_select"]) / args.users,
            "published": accepted_requests(logs / f"{name}.log") if record else {}}


def run_journey(args, *, record=False):
    """Both phases on a fresh local stack; returns (campaign, [phase results])."""
    from django.core.management import call_command

    from campaigns.services import campaign_create
    from lab.embedded import free_port
    from lab.management.commands.run_demo import assigned
    from lab.stack import LocalStack

    stack = LocalStack(Path("/tmp") / f"bench-journey-{uuid.uuid4().hex[:6]}")
    try:
        stack.start_broker(port=None)
        call_command("create_topics", verbosity=0)
        assignment = stack.logs / "assignment.json"
        stack.start_consumer("--assignment-file", str(assignment))
        web_env = {"DJANGO_SETTINGS_MODULE": {"jwt": "campaign_site.settings.production",
                                              "body": "bench.production_body_mode"}[args.identity],
                   "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex * 2, "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                   "DJANGO_SECURE_SSL_REDIRECT": "false", "GUNICORN_ACCESS_LOG": "",
                   "GUNICORN_WORKERS": args.workers}
        base_url = stack.start_web(free_port(), **web_env)
        stack.wait(lambda: assigned(assignment), timeout=60, message="the consumer to join its group")
        campaign = campaign_create(name=f"journey {args.users}", total_stock=args.stock)
        web = psutil.Process(next(child.pid for child in stack.children if child.name == "web"))
        results = [run_phase(stack, base_url, campaign, "open", args, web, record)]
        results.append(run_phase(stack, base_url, campaign, "sold-out", args, web, record))
        return campaign, results, stack.logs
    finally:
        stack.stop()


def parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--users", type=int, default=10000, help="users per phase")
    p.add_argument("--stock", type=int, default=1000)
    p.add_argument("--vus", type=int, default=200)
    p.add_argument("--wait", type=float, default=5, help="?wait= of each result lookup (seconds)")
    p.add_argument("--poll-interval", type=float, default=0.2, help="pause after an early PENDING")
    p.add_argument("--workers", type=int)
    p.add_argument("--identity", choices=("jwt", "body"), default="jwt",
                   help="jwt: each user sends their own token (production); body: the original's trust, the baseline")
    return p


def main():
    args = parser().parse_args()
    from stats.ordering import percentiles
    from lab.selectors import decision_latencies_ms

    campaign, results, logs = run_journey(args)
    decision = percentiles(decision_latencies_ms(campaign_id=campaign.pk), (50, 99))
    rows = [[r["phase"], f"{r['users']:,}", f"{r['final']:,}", r["errors"], f"{r['accepted'] / r['seconds']:,.0f}",
             f"{r['refused'] / r['seconds']:,.0f}", f"{r['to_result_p50']:.0f}", f"{r['to_result_p99']:.0f}",
             f"{r['lookups'] / r['seconds']:,.0f}", f"{r['lookup_p99']:.0f}", f"{r['cpu_ms_per_user']:.2f}",
             f"{r['questions_per_user']:.2f}", f"{r['selects_per_user']:.2f}"] for r in results]
    print()
    print_table(["phase", "users", "final answers", "errors", "accepted/s", "refused/s", "202->result p50 ms",
                 "p99 ms", "lookups/s", "lookup p99 ms", "web CPU ms/user", "queries/user", "selects/user"], rows)
    print(f"\nreceipt -> decision (rows): p50 {decision[50]:.0f} ms, p99 {decision[99]:.0f} ms; logs: {logs}")


if __name__ == "__main__":
    setup_django()
    main()

"""Soak: millions of participation requests through HTTP, then every one accounted for.

k6 (k6/bulk.js, a closed loop of --vus virtual users) sends --requests participations from
--users distinct users (a user's requests are consecutive, so they race each other) to gunicorn
(gunicorn.conf.py, production settings, the per-user throttle off: racing is the point) for one
campaign of --stock coupons; the embedded broker carries them to one consume_firstcome on MariaDB.
The participation topic has --partitions partitions (default 32) and messages are keyed by user:
the embedded broker's in-memory log stops answering fetches once one partition holds somewhere
between 60,000 and 120,000 record batches (docs/benchmarks.md, "The embedded broker's limit"), and
the web tier writes about one batch per request. Apache Kafka has no such limit.
Once k6 is done the consumer is waited for until it has decided every accepted request (or makes
no progress for --stall seconds), and the run reports:

    accepted   202s k6 counted           decided   participation rows
    issued     SUCCESS rows              stock     the campaign's total_stock

Exit code 1 if accepted − decided ≠ 0, issued − stock ≠ 0, issued ≠ total − remaining, or any
user holds two coupons. A 503 is a publish that timed out, not a refusal: such a request may still
reach the broker and be decided (README, broker outages), so decided may exceed accepted by at most
the 503s; those are reported apart and are not a difference.

    .venv/bin/python -m bench.soak [--requests 2000000] [--users 1500000] [--stock 100000] [--vus 100]
        [--partitions 32]
"""
import argparse
import os
import time
import uuid
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "mysql://root@127.0.0.1:3306/firstcome_soak")

from bench._harness import empty_tables, print_table, setup_django  # noqa: E402


def k6_count(metrics, name):
    return int(metrics[name]["values"]["count"]) if name in metrics else 0


def wait_for_drain(stack, campaign_id, accepted, stall_s):
    """Participation rows of the campaign, polled until there is one per accepted request or the
    count has not moved for stall_s seconds. Returns (rows, seconds waited)."""
    from campaigns.models import Participation

    started = last_move = time.monotonic()
    decided = last = -1
    while decided < accepted and time.monotonic() - last_move < stall_s:
        stack.check_alive()
        decided = Participation.objects.filter(campaign_id=campaign_id).count()
        if decided != last:
            last, last_move = decided, time.monotonic()
            print(f"  decided {decided:,} of {accepted:,}", flush=True)
        time.sleep(2)
    return decided, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, help="distinct users (default: three quarters of --requests)")
    parser.add_argument("--stock", type=int, default=100_000)
    parser.add_argument("--vus", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=32,
                        help="of the participation topic; messages keyed by user spread over them")
    parser.add_argument("--stall", type=int, default=120, help="give up once no decision was made for this long (s)")
    args = parser.parse_args()
    users = args.users or max(args.requests * 3 // 4, 1)
    if min(users, args.requests) < args.stock:
        parser.error("fewer users than coupons: the stock could not be issued in full")

    from django.core.management import call_command

    from campaigns import selectors
    from campaigns.models import Campaign
    from campaigns.services import campaign_create
    from lab.embedded import free_port
    from lab.stack import LocalStack, k6_users, run_k6

    empty_tables()
    logs = Path("/tmp") / f"bench-soak-{uuid.uuid4().hex[:6]}"
    stack = LocalStack(logs)
    started = time.monotonic()
    try:
        stack.start_broker(port=None)
        call_command("create_topics", partitions=args.partitions, verbosity=0)
        spread = {"FIRSTCOME_PARTITIONS": args.partitions, "FIRSTCOME_MESSAGE_KEY": "user"}
        base_url = stack.start_web(
            free_port(), DJANGO_SETTINGS_MODULE="campaign_site.settings.production",
            DJANGO_SECRET_KEY="soak-" + uuid.uuid4().hex * 2, DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SECURE_SSL_REDIRECT="false", GUNICORN_ACCESS_LOG="", FIRSTCOME_PARTICIPATION_RATE="off", **spread)
        stack.start_consumer(**spread)
        campaign = campaign_create(name="soak", total_stock=args.stock)
        print(f"k6: {args.requests:,} requests from {users:,} users, stock {args.stock:,}, logs in {logs}", flush=True)
        code, summary = run_k6("bulk.js", {"BASE_URL": base_url, "CAMPAIGN_ID": campaign.pk, "N": args.requests,
                                           "USERS": users, "VUS": args.vus, "MAX_DURATION": "3h"},
                               summary_path=logs / "k6.json", log_path=logs / "k6.log", timeout=4 * 3600,
                               users=k6_users(users))
        if summary is None:
            raise SystemExit(f"k6 wrote no summary (exit {code}); see {logs / 'k6.log'}")
        sent_s = summary["state"]["testRunDurationMs"] / 1000
        metrics = summary["metrics"]
        accepted = k6_count(metrics, "accepted")
        decided, drain_s = wait_for_drain(stack, campaign.pk, accepted, args.stall)
    finally:
        stack.stop()

    campaign = Campaign.objects.get(pk=campaign.pk)
    outcomes = selectors.outcome_counts(campaign.pk)
    issued, moved = outcomes["SUCCESS"], campaign.total_stock - campaign.remaining_stock
    timed_out = k6_count(metrics, "http_5xx")
    late = min(max(decided - accepted, 0), timed_out)  # 503s whose message reached the broker anyway
    difference = accepted - (decided - late)
    several = selectors.users_with_several_coupons(campaign.pk)
    print(f"\n{args.requests:,} requests from {users:,} users, stock {args.stock:,}, {args.vus} VUs, "
          f"{args.partitions} partition(s), "
          f"{os.cpu_count()} cores; sent in {sent_s:,.0f} s ({k6_count(metrics, 'http_reqs') / sent_s:,.0f}/s), "
          f"drained {drain_s:,.0f} s after k6, {time.monotonic() - started:,.0f} s in all")
    at_door = k6_count(metrics, "sold_out_at_door")  # 409 sold_out: a final answer, nothing queued
    print(f"answers: {accepted:,} × 202, {at_door:,} × 409 sold out at the door, "
          f"{k6_count(metrics, 'http_4xx') - at_door:,} other 4xx, {k6_count(metrics, 'http_5xx'):,} × 5xx, "
          f"{k6_count(metrics, 'http_no_answer'):,} unanswered; outcomes {outcomes}\n")
    print_table(["accepted", "sold out at the door", "decided", "of them 503s", "issued", "stock", "total − remaining",
                 "accepted − decided", "issued − stock", "users with 2+ coupons"],
                [[f"{accepted:,}", f"{at_door:,}", f"{decided:,}", f"{late:,}", f"{issued:,}", f"{args.stock:,}", f"{moved:,}",
                  f"{difference:,}", f"{issued - args.stock:,}", several]])
    failures = [text for failed, text in [
        (difference != 0, f"accepted − decided = {difference:,} (after {late:,} late 503s)"),
        (issued != args.stock, f"issued − stock = {issued - args.stock:,}"),
        (issued != moved, f"{issued:,} SUCCESS rows but the stock moved by {moved:,}"),
        (issued > campaign.total_stock, "oversold"),
        (several, f"{several} user(s) hold two coupons"),
        (k6_count(metrics, "http_4xx") != at_door, "a 4xx other than sold out at the door"),
    ] if failed]
    print("\n" + ("FAILED: " + "; ".join(failures) if failures else "OK: every accepted request decided, the stock issued exactly"))
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    setup_django()
    main()

"""Identity's cost: the same server (gunicorn.conf.py, production settings) measured with
FIRSTCOME_IDENTITY=body and =jwt in one run, on the same machine, with k6 beside it.

Per mode: participations accepted per second with only the broker beside the server (the
consumer decides them afterwards) (k6/bulk.js, closed loop, every request from a new
user with their own token, RS256 from the development issuer as Cognito signs: each token is
verified once, the worst case for the verifier's cache), and result lookups per second for decided requests, each asked by its owner
(bench.http_results' script). Then, with identity on: a flood of forged and expired tokens
(refused per second, 401 on the event loop), and the same flood while real users arrive at
--rate per second (k6/steady.js): every real user must still be accepted.

Checks, printed: identity on ≥ 0.8x body mode for acceptances and for lookups; refusals/s ≥
acceptances/s; no real user refused or failed during the flood.

    .venv/bin/python -m bench.identity [--runs 3] [--vus 100] [--duration 10s] [--rate 500]
"""
import argparse
import json
import os
import threading
import uuid
from pathlib import Path

from bench._harness import empty_tables, print_table, setup_django

WEB_ENV = {"DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "DJANGO_SECURE_SSL_REDIRECT": "false", "GUNICORN_ACCESS_LOG": ""}


def count(summary, name):
    return summary["metrics"].get(name, {}).get("values", {}).get("count", 0)


def per_second(summary, name):
    return count(summary, name) / (summary["state"]["testRunDurationMs"] / 1000)


def forged_tokens(n, prefix):
    """Half with a signature that does not verify, half expired an hour ago: both 401."""
    from identity import participants

    tokens = []
    for k in range(n + 1):
        if k % 2:
            tokens.append(participants.mint(f"{prefix}-{k}", ttl_s=-3600))
        else:
            good = participants.mint(f"{prefix}-{k}")
            tokens.append(good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB"))
    return tokens


def one_run(args, stack, logs, run):
    from bench.http_results import RESULTS_SCRIPT, owned_ids
    from campaigns.models import Participation
    from campaigns.services import campaign_create
    from lab.embedded import free_port
    from lab.stack import k6_users, run_k6

    def k6(script, variables, name, users=None, tokens_file=None):
        variables = {**variables, **({"TOKENS_FILE": tokens_file} if tokens_file else {})}
        _, summary = run_k6(script, variables, summary_path=logs / f"{name}.json", log_path=logs / f"{name}.log",
                            timeout=600, users=users)
        if summary is None:
            raise SystemExit(f"k6 {name} wrote no summary; see {logs / f'{name}.log'}")
        return summary

    row = {}
    (logs / "results.js").write_text(RESULTS_SCRIPT)
    # One set of users and tokens for both modes (each mode decides in a campaign of its own, on
    # a web server of its own): minting RS256 tokens costs more than the runs.
    users = logs / "users.json"
    if not users.exists():
        from lab.stack import write_tokens

        write_tokens(logs / "warm.json", k6_users(args.users // 4, prefix="warm"))
        write_tokens(users, k6_users(args.users, prefix="u"))
        write_tokens(logs / "real.json", k6_users(args.rate * 30, prefix="real"))
        (logs / "forged.json").write_text(json.dumps(forged_tokens(args.users, "forged")))
    secret = args.secret_key
    for mode in ("body", "jwt"):
        # A campaign of its own (tables emptied once, at the start: an emptied table would hand a
        # later campaign an earlier one's id, and the topic's earlier requests with it).
        campaign = campaign_create(name=f"identity bench {mode}", total_stock=10_000_000)
        settings_module = {"body": "bench.production_body_mode", "jwt": "campaign_site.settings.production"}[mode]
        base_url = stack.start_web(free_port(), **WEB_ENV, DJANGO_SECRET_KEY=secret, FIRSTCOME_IDENTITY="jwt",
                                   DJANGO_SETTINGS_MODULE=settings_module)
        bulk = {"BASE_URL": base_url, "CAMPAIGN_ID": campaign.pk, "VUS": args.vus}
        prefix = f"{mode}{run}"
        k6("bulk.js", {**bulk, "DURATION": "3s", "USER_PREFIX": "warm"}, f"warm-{prefix}", tokens_file=logs / "warm.json")
        ingest = k6("bulk.js", {**bulk, "DURATION": args.duration, "USER_PREFIX": "u"}, f"ingest-{prefix}",
                    tokens_file=users)
        row[f"{mode} accepted/s"] = per_second(ingest, "accepted")
        row[f"{mode} accept p99"] = ingest["metrics"]["http_req_duration"]["values"]["p(99)"]
        accepted = count(ingest, "accepted") + count(json.loads((logs / f"warm-{prefix}.json").read_text()), "accepted")
        # Decided now, by a consumer started for it: while k6 measured the web tier, nothing else
        # shared the two cores but the broker (as bench.http_ingest measures).
        stack.start_consumer()
        consumer = stack.children[-1]
        stack.wait(lambda: Participation.objects.filter(campaign=campaign).count() >= accepted, timeout=300,
                   message="every accepted request decided")
        stack.children.remove(consumer)
        consumer.stop()
        sample = Participation.objects.filter(campaign=campaign).order_by("?")[:args.lookups]
        (logs / f"ids-{prefix}.json").write_text(json.dumps(owned_ids(sample)))
        lookups = {"BASE_URL": base_url, "VUS": args.vus, "IDS": str(logs / f"ids-{prefix}.json")}
        k6(str(logs / "results.js"), {**lookups, "DURATION": "3s"}, f"warm-results-{prefix}")
        results = k6(str(logs / "results.js"), {**lookups, "DURATION": args.duration}, f"results-{prefix}")
        checks = results["metrics"]["checks"]["values"]
        row[f"{mode} lookups/s"] = checks["passes"] / (results["state"]["testRunDurationMs"] / 1000)
        row[f"{mode} lookup errors"] = checks["fails"]
        if mode == "jwt":
            flood_file = logs / "forged.json"
            flood = k6("bulk.js", {**bulk, "DURATION": args.duration, "USER_PREFIX": "forged"}, f"flood-{run}",
                       tokens_file=flood_file)
            row["forged refused/s"] = per_second(flood, "http_4xx")
            row["forged accepted"] = count(flood, "accepted")
            # The flood again, with real users arriving at --rate meanwhile.
            both = {}
            flooding = threading.Thread(target=lambda: both.update(flood=k6(
                "bulk.js", {**bulk, "DURATION": args.duration, "USER_PREFIX": "forged"}, f"flood2-{run}",
                tokens_file=flood_file)))
            flooding.start()
            real = k6("steady.js", {"BASE_URL": base_url, "CAMPAIGN_ID": campaign.pk, "RATE": args.rate,
                                    "DURATION": args.duration, "USER_PREFIX": "real"}, f"real-{run}",
                      tokens_file=logs / "real.json")
            flooding.join()
            sent = count(real, "http_reqs")
            row["real users during the flood"] = f"{count(real, 'accepted'):,}/{sent:,}"
            row["real accept p99 (flood)"] = real["metrics"]["http_req_duration"]["values"]["p(99)"]
            row["real all accepted"] = count(real, "accepted") == sent > 0
            row["flood refused/s meanwhile"] = per_second(both["flood"], "http_4xx")
        web = next(child for child in reversed(stack.children) if child.name == "web")
        stack.children.remove(web)
        web.stop()  # this mode's web server
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--vus", type=int, default=100)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--users", type=int, default=60_000, help="distinct users (tokens) a closed-loop run may reach")
    parser.add_argument("--lookups", type=int, default=5000, help="decided requests the lookups pick from")
    parser.add_argument("--rate", type=int, default=500, help="real users per second during the flood")
    args = parser.parse_args()

    from django.core.management import call_command

    from lab.stack import LocalStack

    logs = Path("/tmp") / f"bench-identity-{uuid.uuid4().hex[:6]}"
    stack = LocalStack(logs)
    rows = []
    try:
        stack.start_broker(port=None)
        call_command("create_topics", verbosity=0)
        empty_tables()
        args.secret_key = "bench-" + uuid.uuid4().hex * 2  # one for the whole bench: ids stay verifiable
        for run in range(args.runs):
            rows.append(one_run(args, stack, logs, run))
            print(f"run {run + 1}: " + ", ".join(f"{k} {v:,.0f}" if isinstance(v, float) else f"{k} {v}"
                                                   for k, v in rows[-1].items()), flush=True)
    finally:
        stack.stop()

    def ratio(r, what):
        return r[f"jwt {what}"] / max(r[f"body {what}"], 1e-9)

    print(f"\n{args.runs} runs, k6 {args.vus} VUs for {args.duration}, {os.cpu_count()} cores, same machine")
    print_table(["run", "accepted/s body", "jwt", "ratio", "lookups/s body", "jwt", "ratio", "forged refused/s",
                 "real users in flood", "real p99 ms"],
                [[i + 1, f"{r['body accepted/s']:,.0f}", f"{r['jwt accepted/s']:,.0f}", f"{ratio(r, 'accepted/s'):.2f}",
                  f"{r['body lookups/s']:,.0f}", f"{r['jwt lookups/s']:,.0f}", f"{ratio(r, 'lookups/s'):.2f}",
                  f"{r['forged refused/s']:,.0f}", r["real users during the flood"], f"{r['real accept p99 (flood)']:.1f}"]
                 for i, r in enumerate(rows)])
    checks = {
        "identity on >= 0.8x body mode, acceptances (every run)": all(ratio(r, "accepted/s") >= 0.8 for r in rows),
        "identity on >= 0.8x body mode, lookups (every run)": all(ratio(r, "lookups/s") >= 0.8 for r in rows),
        "forged tokens refused at least as fast as valid ones accepted": all(
            r["forged refused/s"] >= r["jwt accepted/s"] for r in rows),
        "no forged token accepted": all(r["forged accepted"] == 0 for r in rows),
        "every real user accepted during the flood": all(r["real all accepted"] for r in rows),
        "no lookup error": all(r["body lookup errors"] == r["jwt lookup errors"] == 0 for r in rows),
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    print(f"logs: {logs}")
    raise SystemExit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    setup_django()
    main()

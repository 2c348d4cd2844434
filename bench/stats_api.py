"""Benchmark: the statistics API's live computations over a campaign of 1,000,000 decision events
on MariaDB: the day computed from the raw events (GET /api/admin/stats/days/{date}/live) and the
fairness report (GET /api/admin/stats/campaigns/{id}/fairness), each through its selector and its
report function, as the views call them.

    .venv/bin/python -m bench.stats_api [--events 1000000] [--runs 3]

The events are stored the way consume_stats stores them (bench.stats_batch's loader, one campaign
holding every event of the day and 5% more on each neighbouring day). Uses a database of its own:
DATABASE_URL, default mysql://root@127.0.0.1:3306/firstcome_bench_stats.
"""
import argparse
import os
import time

os.environ.setdefault("DATABASE_URL", "mysql://root@127.0.0.1:3306/firstcome_bench_stats")

from bench._harness import print_table, setup_django  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from bench.stats_batch import DAY, load
    from campaigns.messages import to_epoch_us
    from campaigns.models import Campaign
    from stats import selectors
    from stats.days import day_bounds
    from stats.fairness import fairness_report

    stored, seconds = load(args.events, 1)
    campaign_id = Campaign.objects.get(name="bench 0").pk
    print(f"stored {stored:,} events in {seconds:.1f} s (one campaign)")
    rows = []
    for run in range(1, args.runs + 1):
        started = time.perf_counter()
        start, end = (to_epoch_us(bound) for bound in day_bounds(DAY))
        counts = selectors.day_counts_by_campaign(DAY, start, end)
        live_s = time.perf_counter() - started
        started = time.perf_counter()
        events = selectors.campaign_decided_events(campaign_id)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        report = fairness_report(events)
        report_s = time.perf_counter() - started
        rows.append([run, f"{sum(n for n, _, _ in counts[campaign_id].values()):,}", f"{live_s * 1000:,.0f}",
                     f"{report.events:,}", f"{read_s * 1000:,.0f}", f"{report_s * 1000:,.0f}",
                     f"{(read_s + report_s) * 1000:,.0f}"])
        del events
    print_table(["run", "events of the day", "live day ms", "events of the campaign", "fairness: read ms",
                 "fairness: compute ms", "fairness total ms"], rows)


if __name__ == "__main__":
    setup_django()
    main()

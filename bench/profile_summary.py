"""A py-spy raw profile (`py-spy record -f raw`: one "frame;frame;... count" line per stack) as
the share of the sampled process's time spent in each part of firstcome's decision, per thread.

    .venv/bin/python -m bench.profile_summary PROFILE.txt [--records N]

The parts are named by where the frame's code lives (kafka-python's record parsing, the
decoder, row building, SQL, the driver waiting for MariaDB, decision events, metrics, logging);
a sample counts for the innermost part on its stack.
"""
import argparse
import re
from collections import Counter, defaultdict

# (part, a pattern on "function (file:line)"), innermost first: the first that matches a frame,
# searching from the top of the stack down, names the sample.
PARTS = [
    ("MariaDB (driver waiting, network)", r"MySQLdb/|_mysql|mysqlclient"),
    ("SQL building (campaigns.rows)", r"campaigns/rows\.py"),
    ("the decision (campaigns.decision)", r"campaigns/decision\.py"),
    ("decision events (encode, publish)", r"campaigns/consumers\.py|encode_decision|streaming/producer\.py|kafka/producer"),
    ("decoder (campaigns.messages)", r"campaigns/messages\.py"),
    ("kafka-python record parsing", r"kafka/record|kafka/protocol|kafka/consumer/fetcher"),
    ("kafka-python networking", r"kafka/net|kafka/client|selectors\.py"),
    ("metrics", r"prometheus_client|streaming/metrics\.py"),
    ("logging", r"logging/|pythonjsonlogger"),
    ("Django ORM and transactions", r"django/db"),
    ("the consumer loop (streaming.worker)", r"streaming/worker\.py"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in PARTS]


def part_of(frames):
    for frame in reversed(frames):
        for name, pattern in COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def summarise(path):
    by_thread = defaultdict(Counter)
    for line in open(path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        thread = "database thread" if any("process_prepared" in f or "process_isolating" in f for f in frames) else (
            "main thread" if any("run (streaming/worker.py" in f or "gather" in f for f in frames) else "other threads")
        by_thread[thread][part_of(frames)] += int(count)
    return by_thread


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile")
    parser.add_argument("--records", type=int, default=0, help="records decided in the run: adds µs per record")
    parser.add_argument("--rate", type=int, default=100, help="py-spy's samples per second")
    args = parser.parse_args()
    for thread, parts in sorted(summarise(args.profile).items()):
        total = sum(parts.values())
        print(f"{thread}: {total} samples ({total / args.rate:.1f} s)")
        for name, n in parts.most_common():
            per_record = f"  {n / args.rate / args.records * 1e6:6.1f} µs/record" if args.records else ""
            print(f"  {n / total:6.1%}  {name}{per_record}")


if __name__ == "__main__":
    main()

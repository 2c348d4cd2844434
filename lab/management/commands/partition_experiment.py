from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lab.embedded import broker_from_environment
from lab.partition_experiment import ExperimentConfig, report_name, run_experiment


def partition_counts(text):
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--partitions takes comma-separated whole numbers, not {text!r}") from None
    if not counts or any(c < 1 or c > 64 for c in counts):
        raise CommandError("--partitions: each count must be between 1 and 64")
    return counts


class Command(BaseCommand):
    help = ("Decide the same burst with 1, 3, 5… partitions and measure DB-commit TPS, Kafka TPS, "
            "switch ratio, per-user order violations, fairness, latency and CPU.")

    def add_arguments(self, parser):
        parser.add_argument("--partitions", default="1,3,5")
        parser.add_argument("--events", type=int, default=100_000)
        parser.add_argument("--key", choices=["user", "campaign"], default="user",
                            help="message key: user (the original design) or campaign")
        parser.add_argument("--campaigns", type=int, default=1,
                            help="spread the events over this many campaigns (fairness is per campaign)")
        parser.add_argument("--stock", type=int, help="per campaign; default: a tenth of its events")
        parser.add_argument("--users", type=int, help="default: half the events")
        parser.add_argument("--publishers", type=int, default=4, help="concurrent simulated clients")
        parser.add_argument("--output", help="results folder (default: results/<today>)")

    def handle(self, *args, **options):
        counts = partition_counts(options["partitions"])
        for name in ("events", "stock", "users", "publishers", "campaigns"):
            if options[name] is not None and options[name] < 1:
                raise CommandError(f"--{name} must be at least 1")
        output = Path(options["output"] or Path(settings.BASE_DIR) / "results" / date.today().isoformat())
        config = ExperimentConfig(partitions=counts, events=options["events"], key_by=options["key"],
                                  stock=options["stock"], users=options["users"], campaigns=options["campaigns"],
                                  publishers=options["publishers"], output_dir=output)
        with broker_from_environment(log_path=output / "logs" / "tansu.log") as broker:
            self.stdout.write(f"broker: {broker}")
            results = run_experiment(config, log=self.stdout.write)
        self.stdout.write(f"\nwrote {output}/{report_name(config)}.md (.csv, -tps.png, -cpu.png)")
        self.stdout.write(f"{'partitions':>10} {'decisions/s':>12} {'kafka msg/s':>12} {'switch':>8} "
                          f"{'violations':>10} {'unfair':>7} {'p99 ms':>8} {'total s':>8}")
        for r in results:
            self.stdout.write(f"{r.partitions:>10} {r.processing_tps:>12,.0f} {r.kafka_tps:>12,.0f} "
                              f"{r.switch_ratio:>8.4f} {r.violation_count:>10} "
                              f"{r.unfair_by_receive.unfair_winners:>7} {r.latency_ms[99]:>8.1f} "
                              f"{r.total_seconds:>8.2f}")

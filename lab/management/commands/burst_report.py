"""Why Kafka, measured: the same burst through Kafka and through the three synchronous baselines,
each mode on a fresh campaign, read back from the database into a Markdown/CSV/PNG report."""
import signal
import sys
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from kafka.errors import KafkaError

from lab import reports
from lab.experiments import MODES, BurstExperiment, BurstPlan, ExperimentError
from lab.stack import ChildExited


class Command(BaseCommand):
    help = ("Run the same k6 burst against the Kafka path and the synchronous naive/atomic/locked "
            "baselines; print and save the comparison (Markdown, CSV, PNG).")

    def add_arguments(self, parser):
        parser.add_argument("--stock", type=int, default=50, help="stock of each mode's campaign")
        parser.add_argument("--users", type=int, default=100, help="distinct users")
        parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
        parser.add_argument("--vus", type=int, default=None,
                            help="concurrent k6 virtual users (default: one per user, all at once)")
        parser.add_argument("--requests-per-user", type=int, default=1,
                            help="more than 1: each user's requests race each other (DUPLICATEs)")
        parser.add_argument("--base-url", help="target a running server (same database; experiment "
                                               "endpoints on) instead of starting one")
        parser.add_argument("--web-workers", type=int, help="gunicorn workers (default: gunicorn.conf.py)")
        parser.add_argument("--web-threads", type=int, help="threads per gunicorn worker (default: gunicorn.conf.py)")
        parser.add_argument("--decision-timeout", type=float, default=120,
                            help="seconds to wait for the consumer to decide every accepted request")
        parser.add_argument("--out", type=Path, help="output folder (default: results/<scenario>_<date>_<time>/)")

    def handle(self, *args, **options):
        try:
            plan = BurstPlan(stock=options["stock"], users=options["users"], vus=options["vus"],
                             modes=tuple(m.strip() for m in options["modes"].split(",") if m.strip()),
                             requests_per_user=options["requests_per_user"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        base_url = options["base_url"]
        if base_url and (urlparse(base_url).scheme not in ("http", "https") or not urlparse(base_url).netloc):
            raise CommandError(f"--base-url must be an http(s) URL, not {base_url!r}")
        for name in ("web_workers", "web_threads"):
            if options[name] is not None and options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        if options["decision_timeout"] <= 0:
            raise CommandError("--decision-timeout must be positive")
        out_dir = options["out"] or (Path(settings.BASE_DIR) / "results"
                                        / f"{plan.name}_{timezone.localtime():%Y-%m-%d_%H-%M-%S}")

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the children are stopped
        experiment = BurstExperiment(plan, out_dir=out_dir, base_url=base_url, web_workers=options["web_workers"],
                                     web_threads=options["web_threads"],
                                     decision_timeout=options["decision_timeout"], say=self.say)
        try:
            report = experiment.run()
        except (ExperimentError, ChildExited, TimeoutError, KafkaError) as exc:
            raise CommandError(f"{exc} (logs in {out_dir / 'logs'})") from None
        paths = reports.save(report, out_dir)
        self.say("\n" + reports.markdown(report))
        self.say("saved " + ", ".join(str(p) for p in paths.values()))

    def say(self, text):
        self.stdout.write(text)
        self.stdout.flush()

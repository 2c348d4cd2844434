import argparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from campaigns.errors import BatchRunInProgress
from stats import services
from stats.days import parse_day, today, yesterday

USAGE_ERROR = 2  # as argparse exits on a bad option


def day_argument(text):
    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Command(BaseCommand):
    help = ("Aggregate the raw decision events per campaign and day into campaign_stats "
            "(days in TIME_ZONE; default: yesterday). Exit code 1 if any campaign failed.")

    def add_arguments(self, parser):
        parser.add_argument("--date", type=day_argument, metavar="YYYY-MM-DD",
                            help="one day (default: yesterday in TIME_ZONE)")
        parser.add_argument("--from", dest="date_from", type=day_argument, metavar="YYYY-MM-DD",
                            help="first day of a range (with --to)")
        parser.add_argument("--to", dest="date_to", type=day_argument, metavar="YYYY-MM-DD",
                            help="last day of a range, included (with --from)")

    def handle(self, *args, date=None, date_from=None, date_to=None, verbosity=1, **options):
        self.verbosity = verbosity
        first, last = self.days(date, date_from, date_to)
        try:
            with services.stats_batch_lock():  # one run at a time: cron here, the API elsewhere
                self.run(first, last)
        except BatchRunInProgress as exc:
            raise CommandError(str(exc)) from None

    def run(self, first, last):
        run = services.stats_batch_start(date_from=first, date_to=last)
        self.stdout.write(f"run #{run.pk}: {run.job_name} {run.parameters}")
        if last >= today():
            self.stdout.write(f"note: {today()} is not over in {run.time_zone}; its counts will still grow")
        if run.message:
            self.stdout.write(run.message)
        try:
            services.stats_batch_execute(run, on_step=self.report_step)
        except Exception as exc:
            raise CommandError(f"run #{run.pk} stopped: {exc.__class__.__name__}: {exc}") from exc
        failures = list(run.failures.order_by("stats_date", "campaign_id"))
        seconds = (run.finished_at - run.started_at).total_seconds()
        self.stdout.write(f"run #{run.pk} {run.status} in {seconds:.1f}s: {run.rows_read} events read, "
                          f"{run.rows_written} campaign_stats rows written, {len(failures)} failed")
        if not run.rows_read and not failures:
            self.stdout.write("no decision events on these days (is consume_stats running?)")
        if failures:
            named = ", ".join(f"campaign {f.campaign_id} on {f.stats_date}" for f in failures)
            raise CommandError(f"run #{run.pk} {run.status}, failed: {named}")

    def days(self, date, date_from, date_to):
        if date and (date_from or date_to):
            raise CommandError("--date cannot be combined with --from/--to", returncode=USAGE_ERROR)
        if bool(date_from) != bool(date_to):
            raise CommandError("--from and --to go together (for one day use --date)", returncode=USAGE_ERROR)
        first, last = (date_from, date_to) if date_from else (date or yesterday(),) * 2
        if first > last:
            raise CommandError(f"--from {first} is after --to {last}", returncode=USAGE_ERROR)
        if last > today():
            raise CommandError(f"{last} is in the future (today is {today()} in {settings.TIME_ZONE})",
                               returncode=USAGE_ERROR)
        return first, last

    def report_step(self, step):
        if step.error:
            self.stdout.write(f"{step.day} campaign {step.campaign_id}: FAILED {step.error}")
        elif self.verbosity >= 1:
            s = step.stats
            self.stdout.write(f"{step.day} campaign {step.campaign_id}: {s.success_count} SUCCESS, "
                              f"{s.sold_out_count} SOLD_OUT, {s.duplicate_count} DUPLICATE")

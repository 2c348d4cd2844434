"""The whole stack in one command: broker, database, web server, consumer, and the original
scenario (100 users within a second, stock 50) read back from the database."""
import json
import signal
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from campaigns import selectors, services
from campaigns.models import Participation
from lab.embedded import free_port, port_open
from stats.ordering import percentiles
from lab.selectors import decision_latencies_ms
from lab.stack import ChildExited, LocalStack, k6_users, run_k6
from stats import selectors as stats_selectors

DEMO_USER, DEMO_PASSWORD = "admin", "admin"


def assigned(path: Path) -> bool:
    """The consumer wrote a non-empty partition assignment (BatchConsumerWorker.assignment_file)."""
    try:
        return bool(json.loads(path.read_text()))
    except (OSError, ValueError):
        return False


def latency_line(campaign_id: int) -> str:
    """p50/p99 of receipt (202) to decision over the campaign's decided requests."""
    latencies = decision_latencies_ms(campaign_id=campaign_id)
    if not latencies:
        return "no decisions"
    p = percentiles(latencies, (50, 99))
    return f"p50 {p[50]:.0f} ms, p99 {p[99]:.0f} ms"


class Command(BaseCommand):
    help = "Start broker, web server and consumer, run the original burst, and keep the stack up."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="web server port (0: any free one)")
        parser.add_argument("--stock", type=int, default=50)
        parser.add_argument("--users", type=int, default=100)
        parser.add_argument("--exit", action="store_true", help="stop everything after the scenario")

    def handle(self, *args, **options):
        if options["stock"] < 1 or options["users"] < 1:
            raise CommandError("--stock and --users must be positive")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        self.stack = LocalStack(Path(settings.VAR_DIR) / "demo", say=self.say)
        try:
            self.run(options, self.stack.logs)
        except KeyboardInterrupt:
            pass
        except (ChildExited, TimeoutError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            self.stack.stop()

    def say(self, text):
        self.stdout.write(text)
        self.stdout.flush()

    def run(self, options, logs):
        # The default Kafka port when it is free, so the stack left running is where clients expect.
        self.stack.start_broker(port=9092)
        self.say(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} "
                 f"{settings.DATABASES['default']['NAME']}")
        call_command("migrate", verbosity=0)
        call_command("create_topics", stdout=self.stdout)
        self.ensure_demo_login()

        port = options["port"] or free_port()
        if port_open("127.0.0.1", port):
            raise CommandError(f"port {port} is busy; pass --port N (or --port 0 for a free one)")
        consumer_metrics_port = free_port()
        assignment = logs / "consume_firstcome.assignment.json"
        assignment.unlink(missing_ok=True)
        self.stack.start_consumer("--metrics-port", str(consumer_metrics_port), "--metrics-addr", "127.0.0.1",
                                  "--assignment-file", str(assignment))
        self.stack.start_consumer(command="consume_stats")
        base_url = self.stack.start_web(port)
        # The burst starts once the consumer holds its partitions: otherwise its first decisions
        # wait for the group join, and the latency shown would be the join's, not the pipeline's.
        self.stack.wait(lambda: assigned(assignment), timeout=60, message="the consumer to join its group")

        campaign = services.campaign_create(name="Demo: first come, first served", total_stock=options["stock"])
        self.say(f"\nAPI       {base_url}/api/campaigns/{campaign.pk}\n"
                 f"admin     {base_url}/admin/  (login {DEMO_USER} / {DEMO_PASSWORD})\n"
                 f"dashboard {base_url}/dashboard/?campaign_id={campaign.pk}  (same login)\n"
                 f"metrics   {base_url}/metrics  (web), http://127.0.0.1:{consumer_metrics_port}/metrics (consumer)\n"
                 f"logs      {logs}/\n")
        self.burst(base_url, campaign, options["users"], logs)
        if options["exit"]:
            return
        self.say("\nThe stack stays up; Ctrl-C stops every process this command started.")
        while not self.stack.dead():
            time.sleep(0.5)
        self.stack.check_alive()

    def ensure_demo_login(self):
        User = get_user_model()
        if not User.objects.filter(username=DEMO_USER).exists():
            User.objects.create_superuser(DEMO_USER, "admin@example.com", DEMO_PASSWORD)

    def burst(self, base_url, campaign, users, logs):
        self.say(f"Running the original scenario: {users} users within a second, stock {campaign.total_stock} (k6)")
        started = time.monotonic()
        _, summary = run_k6("burst.js", {"BASE_URL": base_url, "CAMPAIGN_ID": campaign.pk, "VUS": users},
                            summary_path=logs / "burst-summary.json", log_path=logs / "k6.log", timeout=120,
                            users=k6_users(users))
        k6_log = (logs / "k6.log").read_text(errors="replace").strip()
        self.say(k6_log.splitlines()[-1] if k6_log else "k6: no output")
        if summary is None:
            raise CommandError(f"k6 wrote no summary; see {logs / 'k6.log'}")
        metrics = summary["metrics"]
        accepted = int(metrics.get("accepted", {}).get("values", {}).get("count", 0))
        # Once the web tier knows the stock is gone it answers 409 sold_out without queuing.
        at_door = int(metrics.get("sold_out_at_door", {}).get("values", {}).get("count", 0))
        self.stack.wait(lambda: Participation.objects.filter(campaign=campaign).count() >= accepted,
                        timeout=60, message="every accepted request to be decided")
        elapsed = time.monotonic() - started
        counts = selectors.outcome_counts(campaign.pk)
        campaign.refresh_from_db()
        issued = campaign.total_stock - campaign.remaining_stock
        self.say(
            f"\nRead back from the database ({elapsed:.1f}s from first request to last decision):\n"
            f"  requests accepted (202)  {accepted}\n"
            f"  sold out at the door     {at_door} (409, nothing queued)\n"
            f"  SUCCESS                  {counts['SUCCESS']}\n"
            f"  SOLD_OUT                 {counts['SOLD_OUT'] + at_door} ({counts['SOLD_OUT']} decided, {at_door} at the door)\n"
            f"  DUPLICATE                {counts['DUPLICATE']}\n"
            f"  stock issued             {issued} of {campaign.total_stock}\n"
            f"  users with two coupons   {selectors.users_with_several_coupons(campaign.pk)}\n"
            f"  receipt -> decision      {latency_line(campaign.pk)}\n"
            f"\n=> {counts['SUCCESS']} SUCCESS / {counts['SOLD_OUT'] + at_door} SOLD_OUT / "
            f"{selectors.users_with_several_coupons(campaign.pk)} duplicates issued")
        self.daily_stats(campaign, accepted)

    def daily_stats(self, campaign, accepted):
        """The statistics path: consume_stats has stored the decision events; aggregate today."""
        self.stack.wait(lambda: stats_selectors.decision_event_count(campaign.pk) >= accepted,
                        timeout=60, message="consume_stats to store every decision event")
        self.say("\nStatistics: run_stats_batch for today (daily at 02:00 for yesterday once scheduled "
                 "with `manage.py crontab add`):")
        call_command("run_stats_batch", "--date", str(timezone.localdate()), stdout=self.stdout)

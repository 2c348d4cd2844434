"""The burst experiment behind `manage.py burst_report`: the same burst against the Kafka path and
the three synchronous baselines (lab.services.SYNC_STRATEGIES), each on a fresh campaign, driven by
k6, with the truth read back from the database."""
import io
import json
import os
import platform
import runpy
import subprocess
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from campaigns import selectors, services
from identity import participants
from lab.embedded import free_port
from lab.services import SYNC_STRATEGIES
from lab.stack import BIN, K6_THRESHOLDS_CROSSED, LocalStack, k6_users, run_k6

MODES = ("kafka", *SYNC_STRATEGIES)
K6_TIMEOUT_S = 600


class ExperimentError(RuntimeError):
    """The experiment could not be run as planned (the message says what to look at)."""


@dataclass(frozen=True)
class BurstPlan:
    stock: int
    users: int
    modes: tuple
    # Concurrent k6 virtual users; None: one per user, all at once (k6/burst.js).
    vus: int | None = None
    requests_per_user: int = 1

    def __post_init__(self):
        if self.stock < 1 or self.users < 1 or self.requests_per_user < 1:
            raise ValueError("stock, users and requests per user must be positive")
        if not self.modes:
            raise ValueError(f"no mode given: use some of {', '.join(MODES)}")
        if unknown := [m for m in self.modes if m not in MODES]:
            raise ValueError(f"unknown mode(s) {', '.join(map(repr, unknown))}: use some of {', '.join(MODES)}")
        if len(set(self.modes)) != len(self.modes):
            raise ValueError("a mode is listed twice")
        if self.vus is not None and not 1 <= self.vus <= self.requests:
            raise ValueError(f"vus must be between 1 and the number of requests ({self.requests})")

    @property
    def requests(self):
        return self.users * self.requests_per_user

    @property
    def concurrency(self):
        return self.vus or self.users

    @property
    def script(self):
        """burst.js: every user at once, one request each; bulk.js otherwise."""
        return "burst.js" if self.requests_per_user == 1 and self.concurrency == self.users else "bulk.js"

    def k6_variables(self, base_url, campaign_id, mode):
        variables = {"BASE_URL": base_url, "CAMPAIGN_ID": campaign_id, "MODE": mode,
                     "VUS": self.concurrency, "MAX_DURATION": f"{K6_TIMEOUT_S - 60}s"}
        if self.script == "bulk.js":
            variables.update(N=self.requests, USERS=self.users)
        return variables

    @property
    def name(self):
        """The scenario in a folder name, so a saved report says which burst it holds."""
        shape = ("at-once" if self.script == "burst.js" else f"{self.concurrency}-at-a-time")
        name = f"{self.users}-users-{shape}-stock-{self.stock}"
        if self.requests_per_user > 1:
            name += f"-{self.requests_per_user}-requests-each"
        if self.modes != MODES:
            name += "-" + "-".join(self.modes)
        return name

    def describe(self):
        shape = ("all at once, one request each" if self.script == "burst.js"
                 else f"{self.requests} requests ({self.requests_per_user} per user) from {self.concurrency} "
                      f"concurrent virtual users, each sending its next as soon as answered")
        return f"{self.users} users, {shape} (k6/{self.script}); stock {self.stock}, a fresh campaign per mode"


@dataclass(frozen=True)
class ModeResult:
    """One mode's numbers: HTTP side from k6's summary, outcomes from the database."""
    mode: str
    campaign_id: int
    stock: int
    requests: int
    http_2xx: int
    http_4xx: int
    http_5xx: int
    no_answer: int
    issued: int  # SUCCESS rows: coupons handed out
    sold_out: int
    duplicates: int  # DUPLICATE rows (a user's repeated request), not duplicate coupons
    stock_decrement: int  # total_stock - remaining_stock
    users_with_several_coupons: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_s: float
    last_decision_s: float | None  # first request received → last decision, from the rows

    @property
    def oversold(self):
        return max(0, self.issued - self.stock)

    @property
    def lost_updates(self):
        """Coupons issued whose stock decrement was overwritten (rows − decrement)."""
        return self.issued - self.stock_decrement

    @property
    def verdict(self):
        broken = [name for name, value in (("oversold", self.oversold), ("lost updates", self.lost_updates),
                                           ("duplicate coupons", self.users_with_several_coupons)) if value]
        return ", ".join(broken).upper() if broken else "correct"


@dataclass
class BurstReport:
    plan: BurstPlan
    environment: dict
    started_at: datetime
    results: list = field(default_factory=list)


def mode_result(mode, campaign_id, k6_metrics) -> ModeResult:
    def count(name):
        return int(k6_metrics.get(name, {}).get("values", {}).get("count", 0))

    latency = k6_metrics.get("http_req_duration", {}).get("values", {})
    campaign = selectors.campaign_get(campaign_id)
    outcomes = selectors.outcome_counts(campaign_id)
    first, last = selectors.decision_window(campaign_id)
    return ModeResult(
        mode=mode, campaign_id=campaign_id, stock=campaign.total_stock,
        requests=count("http_reqs"), http_2xx=count("http_2xx"), http_4xx=count("http_4xx"),
        http_5xx=count("http_5xx"), no_answer=count("http_no_answer"),
        issued=outcomes["SUCCESS"], sold_out=outcomes["SOLD_OUT"], duplicates=outcomes["DUPLICATE"],
        stock_decrement=campaign.total_stock - campaign.remaining_stock,
        users_with_several_coupons=selectors.users_with_several_coupons(campaign_id),
        p50_ms=latency.get("med", 0.0), p95_ms=latency.get("p(95)", 0.0), p99_ms=latency.get("p(99)", 0.0),
        requests_per_s=k6_metrics.get("http_reqs", {}).get("values", {}).get("rate", 0.0),
        last_decision_s=(last - first).total_seconds() if first else None,
    )


def web_sizing(workers=None, threads=None):
    """(workers, threads) gunicorn will run with: the given values, else gunicorn.conf.py's
    (which reads GUNICORN_WORKERS / GUNICORN_THREADS)."""
    conf = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    return workers or conf["workers"], threads or conf["threads"]


def post_json(url, body, timeout=10, *, user=None):
    """(HTTP status, JSON body) of a POST, as `user` (a development token) when given; status 0
    when nothing answered."""
    credential = {"Authorization": f"Bearer {participants.mint(user)}"} if user is not None else {}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **credential})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}
    except OSError as exc:
        return 0, {"detail": str(exc)}


class BurstExperiment:
    def __init__(self, plan, *, out_dir, base_url=None, web_workers=None, web_threads=None,
                 decision_timeout=120, say=None):
        self.plan = plan
        self.out_dir = Path(out_dir)
        self.logs = self.out_dir / "logs"
        self.base_url = base_url.rstrip("/") if base_url else None
        self.web_workers, self.web_threads = web_sizing(web_workers, web_threads)
        self.decision_timeout = decision_timeout
        self.say = say or (lambda text: None)
        self.stack = None

    def run(self) -> BurstReport:
        started_at = timezone.localtime()
        self.stack = LocalStack(self.logs, say=self.say)
        try:
            base_url = self.base_url or self.start_stack()
            self.warm_up(base_url)
            report = BurstReport(self.plan, self.environment(base_url), started_at)
            for mode in self.plan.modes:
                report.results.append(self.run_mode(mode, base_url))
            return report
        finally:
            self.stack.stop()

    def start_stack(self):
        """Broker (embedded unless configured), schema, topics, gunicorn with the experiment
        endpoints on, and the consumer; returns the web server's URL."""
        self.stack.start_broker(port=None)
        call_command("migrate", verbosity=0)
        call_command("create_topics", stdout=io.StringIO())
        self.stack.start_consumer()
        return self.stack.start_web(free_port(), FIRSTCOME_EXPERIMENT_ENDPOINTS=1,
                                    GUNICORN_WORKERS=self.web_workers, GUNICORN_THREADS=self.web_threads,
                                    # users racing their own requests are what is measured, not abuse
                                    FIRSTCOME_PARTICIPATION_RATE="off" if self.plan.requests_per_user > 1 else None)

    def warm_up(self, base_url):
        """Before anything is measured: each web thread has its DB connection and each worker its
        Kafka producer, the synchronous endpoints answer (they are on, we are a loopback client),
        and the consumer has joined its group (Kafka requests are decided end to end)."""
        # Enough stock that the warm-up never sells out (a sold-out campaign refuses at the door).
        campaign = services.campaign_create(name="burst_report warm-up", total_stock=100_000)
        endpoint = f"{base_url}/api/campaigns/{campaign.pk}/participations"
        requests = []
        if set(self.plan.modes) & set(SYNC_STRATEGIES):
            requests.append((f"{base_url}/lab/campaigns/{campaign.pk}/participations-sync?strategy=atomic", 200))
        if "kafka" in self.plan.modes:
            requests.append((endpoint, 202))
        slots = self.web_workers * self.web_threads
        for url, expected in requests:
            with ThreadPoolExecutor(slots) as pool:
                answers = pool.map(lambda i: post_json(url, {"user_id": f"warm-up-{expected}-{i}"},
                                                         user=f"warm-up-{expected}-{i}"), range(slots))
                for status, body in answers:
                    if status != expected:
                        raise ExperimentError(f"warm-up: {url} answered {status or 'nothing'}: "
                                              f"{body.get('detail', body)}")
        self.stack.wait(lambda: sum(selectors.outcome_counts(campaign.pk).values()) >= slots * len(requests),
                        timeout=self.decision_timeout,
                        message="the warm-up requests to be decided (the consumer joins its group first)")

    def run_mode(self, mode, base_url) -> ModeResult:
        campaign = services.campaign_create(name=f"burst_report {mode}", total_stock=self.plan.stock)
        self.say(f"{mode}: campaign {campaign.pk}, {self.plan.requests} requests from "
                 f"{self.plan.concurrency} virtual users (k6/{self.plan.script})")
        log_path = self.logs / f"k6-{mode}.log"
        code, summary = run_k6(self.plan.script, self.plan.k6_variables(base_url, campaign.pk, mode),
                               summary_path=self.out_dir / f"k6-{mode}.json", log_path=log_path,
                               timeout=K6_TIMEOUT_S, users=k6_users(max(self.plan.users, self.plan.concurrency)))
        if summary is None or code not in (0, K6_THRESHOLDS_CROSSED):
            raise ExperimentError(f"k6 failed in mode {mode} (exit code {code}); see {log_path}")
        metrics = summary["metrics"]
        if mode == "kafka":  # 202 means queued: wait until the consumer has decided every one
            accepted = int(metrics.get("accepted", {}).get("values", {}).get("count", 0))

            def decided():
                return sum(selectors.outcome_counts(campaign.pk).values())

            try:
                self.stack.wait(lambda: decided() >= accepted, timeout=self.decision_timeout,
                                message="the consumer")
            except TimeoutError:
                raise ExperimentError(
                    f"kafka: {decided()} of the {accepted} accepted requests decided after "
                    f"{self.decision_timeout:g}s; see {self.logs / 'consume_firstcome.log'}") from None
        return mode_result(mode, campaign.pk, metrics)

    def environment(self, base_url):
        if connection.vendor == "mysql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                version = cursor.fetchone()[0]
        else:
            version = ".".join(map(str, connection.get_database_version()))
        k6_version = subprocess.run([str(BIN / "k6"), "version"], capture_output=True, text=True).stdout.split()
        environment = {
            "machine": f"{os.cpu_count()} cores ({cpu_model()}), "
                       f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.system()} {platform.release()}",
            "database": f"{connection.display_name} {version} ({settings.DATABASES['default']['NAME']})",
            "load": f"k6 {k6_version[1] if len(k6_version) > 1 else ''} on the same machine",
        }
        if self.base_url:
            environment["web"] = f"{base_url} (given: its own broker and consumer)"
        else:
            environment["broker"] = self.stack.broker_description
            environment["web"] = (f"gunicorn (uvicorn workers), {self.web_workers} workers, Django on "
                                  f"{self.web_threads} threads each")
            environment["consumer"] = "consume_firstcome --mode batch, 1 process"
        return environment


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

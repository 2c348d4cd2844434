"""Liveness and readiness of a web process, for the load balancer and the deployment hooks.

Liveness depends on nothing: the process answers. Readiness checks what a request needs: the
database (reachable, every migration applied) and the broker. The checks run in parallel
threads with their own short timeouts, and the answer never waits past one deadline, so a
hanging dependency turns into a named failure instead of a health check that times out.

A check that is still hanging from an earlier call is waited on again rather than started a
second time: during a long outage the health checks cost at most one thread per dependency.
"""
import threading
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import load_backend

from prometheus_client import Gauge

from streaming.health import broker_ping
from streaming.topics import DurabilityCheck


@dataclass
class CheckResult:
    ok: bool
    detail: str
    ms: float


# Per database engine: how to bound a connection attempt and a query, in seconds.
_DB_TIMEOUT_OPTIONS = {
    "django.db.backends.mysql": lambda t: {"connect_timeout": t, "read_timeout": t, "write_timeout": t},
    "django.db.backends.sqlite3": lambda t: {"timeout": t},
}


def _probe_connection(alias, timeout_s):
    """A private connection with short timeouts (the shared one may be busy or configured to
    wait for minutes); the caller closes it."""
    config = connections.settings[alias]
    timeouts = _DB_TIMEOUT_OPTIONS.get(config["ENGINE"], lambda t: {})(max(int(timeout_s), 1))
    config = {**config, "OPTIONS": {**config.get("OPTIONS", {}), **timeouts}}
    return load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)


def unapplied_migrations(alias="default", timeout_s=1.0):
    """Connect, and return the migrations on disk that the database has not applied (the
    question `migrate --check` answers). Raises the driver's error when the database fails."""
    connection = _probe_connection(alias, timeout_s)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
    finally:
        connection.close()


def _database_checks(timeout_s):
    started = time.monotonic()
    try:
        pending = unapplied_migrations(timeout_s=timeout_s)
    except Exception as exc:  # any driver error means "not reachable" to a health check
        ms = (time.monotonic() - started) * 1000
        return {"database": CheckResult(False, _describe(exc), ms),
                "migrations": CheckResult(False, "not checked: the database is unreachable", 0.0)}
    ms = (time.monotonic() - started) * 1000
    migrations = (CheckResult(True, "all applied", 0.0) if not pending else
                  CheckResult(False, f"{len(pending)} unapplied: {', '.join(pending[:5])}", 0.0))
    return {"database": CheckResult(True, "reachable", ms), "migrations": migrations}


_topics_check = None


def _topics():
    """The participation topic this process writes, checked against the durability the settings
    ask for (streaming.topics.DurabilityCheck: re-read once a minute)."""
    global _topics_check
    if _topics_check is None or _topics_check.topics != [settings.FIRSTCOME_TOPIC]:
        _topics_check = DurabilityCheck([settings.FIRSTCOME_TOPIC])
    return _topics_check


TOPIC_SHORTFALLS = Gauge("firstcome_topic_durability_shortfalls",
                         "Ways the participation topic is weaker than configured (replicas, min.insync.replicas, "
                         "missing), as this web process last read them; 0 when none.", multiprocess_mode="max")


def _broker_checks(timeout_s):
    """The broker answers. The durability of the topic a 202 rests on is reported beside it (and in
    a gauge the alerts read), without failing readiness: a topic created weaker than configured
    would otherwise take every web process out of the load balancer at once."""
    started = time.monotonic()
    try:
        brokers = broker_ping(settings.KAFKA_BOOTSTRAP_SERVERS, timeout_s)
    except Exception as exc:
        return {"broker": CheckResult(False, _describe(exc), (time.monotonic() - started) * 1000)}
    detail = f"{brokers} broker(s) in the cluster"
    try:
        shortfalls = _topics().shortfalls(timeout_s=max(timeout_s - (time.monotonic() - started), 0.1))
    except Exception as exc:  # the broker answered its ping: its topics are read again next time
        shortfalls = [f"topics not readable: {type(exc).__name__}"]
    TOPIC_SHORTFALLS.set(len(shortfalls))
    if shortfalls:
        detail += "; weaker than configured: " + "; ".join(shortfalls)
    return {"broker": CheckResult(True, detail, (time.monotonic() - started) * 1000)}


def _describe(exc):
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


# dependency group → (the names it reports, the function that checks them)
CHECKS = {
    "database": (("database", "migrations"), _database_checks),
    "broker": (("broker",), _broker_checks),
}


class _Run:
    def __init__(self, probe, timeout_s):
        self.result = None
        self.done = threading.Event()
        # daemon: a probe stuck in a connect must never hold up the worker's exit
        threading.Thread(target=self._run, args=(probe, timeout_s), daemon=True,
                         name="readiness-check").start()

    def _run(self, probe, timeout_s):
        try:
            self.result = probe(timeout_s)
        finally:
            self.done.set()


_runs = {}
_runs_lock = threading.Lock()


def _start(group, probe, timeout_s):
    with _runs_lock:
        run = _runs.get(group)
        if run is None or run.done.is_set():
            run = _runs[group] = _Run(probe, timeout_s)
        return run


def readiness(timeout_s=None):
    """{"ready": bool, "failing": [names], "checks": {name: {ok, detail, ms}}} within timeout_s."""
    timeout_s = settings.READINESS_TIMEOUT_S if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    # Each probe gets most of the budget for its own timeouts; the deadline is the backstop.
    runs = {group: _start(group, probe, timeout_s * 0.8) for group, (_names, probe) in CHECKS.items()}
    checks = {}
    for group, run in runs.items():
        names = CHECKS[group][0]
        if run.done.wait(max(deadline - time.monotonic(), 0)) and run.result is not None:
            checks.update(run.result)
        else:
            checks.update({name: CheckResult(False, f"no answer within {timeout_s:g} s", timeout_s * 1000)
                           for name in names})
    failing = [name for name, result in checks.items() if not result.ok]
    return {"ready": not failing, "failing": failing,
            "checks": {name: {**asdict(result), "ms": round(result.ms, 1)} for name, result in checks.items()}}

"""gunicorn settings for the API. Every value can be overridden from the environment."""
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threads, because a participation request spends most of its time waiting for the broker's ack;
# one process per core keeps the Python work parallel.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 20))
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def post_fork(server, worker):
    # Each worker gets its own Kafka producer (its I/O thread does not survive a fork); drop any
    # reference inherited from the master so the first request creates a fresh one.
    from streaming import producer

    producer._producer = None
    producer._producer_pid = None


# /metrics must answer for the whole server, not for whichever worker the scrape reached: in
# prometheus_client's multiprocess mode every worker writes its values to files in this
# directory and django-prometheus's /metrics view adds them up. Set before any worker starts.
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="firstcome-web-metrics-"))


def on_starting(server):
    # Files left by an earlier run would be added to this one's numbers.
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

"""gunicorn settings for the API. Every value can be overridden from the environment, read (and
checked) by campaign_site/environment.py like the Django settings' variables.

Reloads without dropping a request: SIGHUP (`systemctl reload firstcome-web`) starts new workers
from this file and stops the old ones gracefully; the listening socket stays with the master, so
no connection is refused, and a stopping worker answers a request already arriving on a kept-alive
connection with "Connection: close" instead of dropping it (campaign_site/server.py). A new
release needs a restart (the master keeps its interpreter and code paths), which CodeDeploy does
with the instance out of the load balancer (see docs/deploy.md).
"""
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from campaign_site.environment import env
from campaign_site.logging_config import gunicorn_json_logging

bind = env.str("GUNICORN_BIND", "127.0.0.1:8000")
# One process per core, each an event loop (uvicorn: HTTP parsed in C) serving
# campaign_site.asgi: participation requests on the loop itself, everything else in Django on
# GUNICORN_THREADS threads (see campaign_site/asgi.py). gunicorn stays the process manager:
# graceful reloads, worker restarts, this file. Why this layout and not threads per request:
# docs/decisions.md, "The web tier"; its measurements: docs/benchmarks.md, "HTTP ingest".
wsgi_app = "campaign_site.asgi:application"
worker_class = "campaign_site.server.Worker"
workers = env.int("GUNICORN_WORKERS", multiprocessing.cpu_count(), minimum=1)
# Threads per worker for the Django application (not gunicorn's own setting under this worker
# class: pre_fork hands it to the workers' environment, where the settings read it as
# WEB_THREADS, with the same default, for campaign_site/asgi.py).
threads = env.int("GUNICORN_THREADS", 24, minimum=1)
timeout = env.int("GUNICORN_TIMEOUT", 30, minimum=0)
# How long stopping workers may finish their requests (SIGTERM, SIGHUP, a restart): well above
# the longest a request waits for the broker (KAFKA_PUBLISH_TIMEOUT_MS); the systemd unit's
# TimeoutStopSec is longer, so gunicorn, not systemd, decides when a worker is killed.
graceful_timeout = env.int("GUNICORN_GRACEFUL_TIMEOUT", 20, minimum=0)
# Longer than the ALB's idle timeout: the load balancer must be the one that closes an idle
# kept-alive connection, or it may send a request on a socket we are closing (502).
keepalive = env.int("GUNICORN_KEEPALIVE", 75, minimum=0)
# The ALB's address varies; only the ALB can reach the port (security group), so trust its
# X-Forwarded-* headers from its subnets (docs/operations.md). Default: gunicorn's own (loopback only).
forwarded_allow_ips = env.str("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# A request's head (gunicorn's defaults; 0 is no limit): over them a JSON 414 (the request line)
# or 431 (header fields), answered by the worker class (campaign_site/server.py) before Django.
# The ALB in front refuses a request line over 16 KB and headers over 64 KB on its own.
limit_request_line, limit_request_fields, limit_request_field_size = (
    env.int(f"GUNICORN_{name}", default, minimum=0) for name, default in (
        ("LIMIT_REQUEST_LINE", 4094), ("LIMIT_REQUEST_FIELDS", 100), ("LIMIT_REQUEST_FIELD_SIZE", 8190)))
proc_name = "firstcome-web"
# The worker heartbeat file: on tmpfs, so a slow disk cannot stall a worker into a timeout kill.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicornc's control socket only where the service asks for one (systemd: /run/firstcome-web);
# the default path under $HOME would be shared by every gunicorn of the machine's user.
control_socket_disable = not env.str("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = env.str("GUNICORN_CONTROL_SOCKET")

# Where the access log goes; its lines (client, peer, request, status, bytes, ms, user agent,
# the ALB's trace id) are written by campaign_site/access_log.py, not by gunicorn's format.
accesslog = env.str("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = env.log_level("GUNICORN_LOG_LEVEL", "info").lower()
if env.bool("GUNICORN_LOG_JSON", False):
    # The same one-JSON-object-per-line format as the Django logs in production.
    logconfig_dict = gunicorn_json_logging(error_level=loglevel.upper())


# /metrics must answer for the whole server, not for whichever worker the scrape reached: in
# prometheus_client's multiprocess mode every worker writes its values to files in this
# directory and django-prometheus's /metrics view adds them up. Set before any worker starts.
def on_starting(server):
    # Once per master, before any worker (this file itself is read again on every reload): a
    # directory of our own unless the environment names one; the master remembers it made it.
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        server.own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
            prefix="firstcome-web-metrics-")
    # Files left by an earlier run would be added to this one's numbers.
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()


def pre_fork(server, worker):
    # The value this configuration (re)loaded, for the worker about to start.
    os.environ["GUNICORN_THREADS"] = str(server.cfg.threads)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if getattr(server, "own_metrics_dir", None):
        shutil.rmtree(server.own_metrics_dir, ignore_errors=True)


def worker_exit(server, worker):
    # Every 202 already waited for its ack, so nothing is pending: close the producer's
    # connections cleanly instead of leaving the broker to time them out.
    from streaming.producer import reset_producer

    reset_producer()

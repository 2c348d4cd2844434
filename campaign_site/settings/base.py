"""Settings shared by every environment. Everything that differs between machines comes from
the environment; see .env.example for the full list."""
import contextlib
import os
import shlex
from pathlib import Path

import dj_database_url

from stats.schedule import daily_schedule, host_time_zone

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("FIRSTCOME_VAR_DIR", BASE_DIR / "var"))


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_crontab",
    "django_prometheus",
    "streaming",
    "campaigns",
    "stats",
    "monitoring",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "campaign_site.middleware.HealthCheckMiddleware",  # before host validation and the HTTPS redirect
    "campaign_site.request_limits.RequestSizeLimitMiddleware",  # before anything reads the body
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "campaign_site.urls"
WSGI_APPLICATION = "campaign_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_from_url(url):
    """DATABASE_URL → Django DATABASES entry, tuned per engine.

    MySQL/MariaDB: utf8mb4 and READ COMMITTED, so a consumer that has just taken the campaign row
    lock sees every decision committed before it (REPEATABLE READ would pin an older snapshot).
    SQLite (the embedded default): WAL so the web workers read while the consumer writes, and
    IMMEDIATE transactions so two writers queue instead of failing with 'database is locked'.
    """
    config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    if config["ENGINE"] == "django.db.backends.mysql":
        config["OPTIONS"] = {"charset": "utf8mb4", "isolation_level": "read committed"}
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_bin"}
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    return config


DATABASE_URL = env("DATABASE_URL")
if not DATABASE_URL:  # the embedded default: a SQLite file under var/
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'firstcome.sqlite3'}"
DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "Asia/Seoul")  # the original campaign ran in Korea
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

# Participation bodies are tiny; refuse anything large before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024)

# Per-user rate of POST /api/campaigns/{id}/participations ("N/s", "N/m", or "off"), counted in
# the `throttle` cache: per process by default, see campaigns/throttles.py for the trade-off.
FIRSTCOME_PARTICIPATION_RATE = env("FIRSTCOME_PARTICIPATION_RATE", "5/s")
FIRSTCOME_THROTTLE_CACHE = "throttle"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Keys live one rate period: this holds the users of the last second of a 50,000 req/s burst.
    "throttle": {"BACKEND": "campaigns.throttles.ThrottleCache", "LOCATION": "throttle",
                 "OPTIONS": {"MAX_ENTRIES": 50_000}},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["campaign_site.parsers.JSONParser"],  # a nesting limit: 400, not 500
    "EXCEPTION_HANDLER": "campaign_site.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

# GET /api/schema/: the API's OpenAPI document (campaigns/schema.py).
SPECTACULAR_SETTINGS = {
    "TITLE": "firstcome",
    "DESCRIPTION": "First-come coupon issuing: participations go through Kafka, one decision per user.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Kafka -------------------------------------------------------------------------------
# The code speaks only the Kafka protocol (kafka-python): the same settings point it at the
# embedded Tansu broker or at an Apache Kafka cluster.
KAFKA_BOOTSTRAP_SERVERS = env_list("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
FIRSTCOME_TOPIC = env("FIRSTCOME_TOPIC", "firstcome.participations")
FIRSTCOME_DLQ_TOPIC = env("FIRSTCOME_DLQ_TOPIC", f"{FIRSTCOME_TOPIC}.dlq")
# The participation endpoint reads a campaign's opening window at most this often per process.
FIRSTCOME_CAMPAIGN_CACHE_S = float(env("FIRSTCOME_CAMPAIGN_CACHE_S", "1"))
# Decision events (one per decided request) for the statistics consumer.
FIRSTCOME_DECISIONS_TOPIC = env("FIRSTCOME_DECISIONS_TOPIC", "firstcome.decisions")
FIRSTCOME_GROUP_ID = env("FIRSTCOME_GROUP_ID", "firstcome-deciders")
FIRSTCOME_PARTITIONS = env_int("FIRSTCOME_PARTITIONS", 1)
# "campaign": one campaign's requests share a partition and keep their arrival order.
# "user": the original design's key; a campaign's requests spread over all partitions.
FIRSTCOME_MESSAGE_KEY = env("FIRSTCOME_MESSAGE_KEY", "campaign")
KAFKA_REPLICATION_FACTOR = env_int("KAFKA_REPLICATION_FACTOR", 1)
# A 202 waits for the broker's ack; past this budget the request is answered 503. 1.5 s keeps
# the whole answer (queueing and Django included) under 2 s when the broker dies mid-request.
KAFKA_PUBLISH_TIMEOUT_MS = env_int("KAFKA_PUBLISH_TIMEOUT_MS", 1500)
# How long the producer waits to fill a batch: sends arriving meanwhile share one produce round
# trip (README, "Throughput").
KAFKA_LINGER_MS = env_int("KAFKA_LINGER_MS", 1)
# Group join on the embedded broker takes about half the session timeout: keep it short.
KAFKA_SESSION_TIMEOUT_MS = env_int("KAFKA_SESSION_TIMEOUT_MS", 10000)
KAFKA_HEARTBEAT_INTERVAL_MS = env_int("KAFKA_HEARTBEAT_INTERVAL_MS", 1000)
KAFKA_FETCH_MAX_WAIT_MS = env_int("KAFKA_FETCH_MAX_WAIT_MS", 10)
KAFKA_MAX_POLL_RECORDS = env_int("KAFKA_MAX_POLL_RECORDS", 5000)
# The dashboard's snapshot reports a broker that does not answer within this as unavailable.
MONITORING_KAFKA_TIMEOUT_MS = env_int("MONITORING_KAFKA_TIMEOUT_MS", 1000)

# --- Statistics (off the hot path) -------------------------------------------------------
# consume_stats stores the decision events raw; run_stats_batch aggregates them per campaign and
# day (days in TIME_ZONE) into campaign_stats, daily from cron (django-crontab).
STATS_GROUP_ID = env("STATS_GROUP_ID", "firstcome-stats")
STATS_DLQ_TOPIC = env("STATS_DLQ_TOPIC", f"{FIRSTCOME_DECISIONS_TOPIC}.dlq")
# Messages per stats transaction; each carries up to 1,000 events (campaigns.messages).
STATS_MAX_POLL_RECORDS = env_int("STATS_MAX_POLL_RECORDS", 20)
STATS_BATCH_AT = env("STATS_BATCH_AT", "02:00")  # in TIME_ZONE, as the original's 02:00 KST
# cron fires on the host clock: see stats/schedule.py for why the time is converted here.
CRONJOBS = [(
    daily_schedule(STATS_BATCH_AT, TIME_ZONE, host_time_zone(env("CRON_HOST_TIME_ZONE"))),
    "django.core.management.call_command", ["run_stats_batch"],
)]
CRONTAB_DJANGO_MANAGE_PATH = str(BASE_DIR / "manage.py")
CRONTAB_DJANGO_SETTINGS_MODULE = env("DJANGO_SETTINGS_MODULE")  # the job runs with the settings that added it
CRONTAB_LOCK_JOBS = True  # a run still going at the next tick is not started twice
# Each run's output is appended here (cron would mail it, and most servers have no MTA).
STATS_BATCH_LOG = Path(env("STATS_BATCH_LOG", VAR_DIR / "stats_batch.log"))
CRONTAB_COMMAND_SUFFIX = f">> {shlex.quote(str(STATS_BATCH_LOG))} 2>&1"
with contextlib.suppress(OSError):  # a missing directory would make cron skip the job
    STATS_BATCH_LOG.parent.mkdir(parents=True, exist_ok=True)

# /readyz answers within this many seconds whatever its dependencies do: keep it under the load
# balancer's health-check timeout.
READINESS_TIMEOUT_S = float(env("READINESS_TIMEOUT_S", "1.5"))

# --- Experiments (manage.py burst_report) ---------------------------------------------------
# POST /api/campaigns/{id}/participations/sync?strategy=naive|atomic|locked decides inside the
# web request, without Kafka, to measure what Kafka buys. Off unless turned on; answers loopback
# clients only; production settings refuse to start with it on.
FIRSTCOME_EXPERIMENT_ENDPOINTS = env_bool("FIRSTCOME_EXPERIMENT_ENDPOINTS", False)
# Test-only: seconds the naive and locked strategies wait between reading the stock and writing
# it back, so a test can make the naive strategy's race happen every time.
FIRSTCOME_SYNC_RACE_WINDOW_S = 0

LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "kafka": {"level": env("KAFKA_LOG_LEVEL", "WARNING")},
        "django.db.backends": {"level": "INFO"},
    },
}

"""Settings shared by every environment. Everything that differs between machines comes from
the environment; see .env.example for the full list."""
import contextlib
import shlex
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from campaign_site.environment import env
from campaign_site.logging_config import django_logging
from campaign_site.schedule import daily_schedule, host_time_zone

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env.str("FIRSTCOME_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

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
    "drf_spectacular_sidecar",  # Swagger UI's files for /api/docs/, served as our own static files
    "django_crontab",
    "django_prometheus",
    "streaming",
    "identity",
    "campaigns",
    "stats",
    "monitoring",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "campaign_site.middleware.HealthCheckMiddleware",  # before host validation and the HTTPS redirect
    "campaign_site.authentication.MetricsMiddleware",  # /metrics, token-checked: idem
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


# DATABASE_URL query options for MySQL/MariaDB → mysqlclient's connect() arguments. TLS comes in
# the MySQL client's spelling (ssl-mode, ssl-ca, ...; "_" or "-") and lands where mysqlclient
# reads it: ssl_mode, and the ssl dict for the files. Any other key must be one mysqlclient or
# Django takes: an unknown one (a typo such as "sslca") stops start-up instead of being dropped,
# because a dropped TLS option means an unencrypted connection nobody notices.
MYSQL_SSL_MODES = ("DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")
MYSQL_SSL_FILES = ("ca", "capath", "cert", "key", "cipher")
MYSQL_PASSTHROUGH_OPTIONS = frozenset({
    "charset", "collation", "connect_timeout", "read_timeout", "write_timeout", "init_command",
    "sql_mode", "unix_socket", "compress", "local_infile", "auth_plugin", "server_public_key_path",
    "read_default_file", "read_default_group", "isolation_level",
})


def mysql_options(query):
    """{"ssl-mode": "verify-identity", "ssl-ca": path, "connect_timeout": 5, ...} → connect() kwargs."""
    options, ssl_files = {}, {}
    for key, value in query.items():
        name = key.replace("-", "_").lower()
        if name == "ssl" and isinstance(value, dict):  # dj_database_url turns ssl-ca into {"ca": ...}
            ssl_files.update(value)
        elif name == "ssl":  # mysqlclient's own alias: ssl=true is REQUIRED, ssl=false DISABLED
            if not isinstance(value, bool):
                raise ImproperlyConfigured(f"DATABASE_URL option ssl={value!r}: use true or false")
            options.setdefault("ssl_mode", "REQUIRED" if value else "DISABLED")
        elif name in ("ssl_mode", "sslmode"):
            mode = str(value).replace("-", "_").upper()
            if mode not in MYSQL_SSL_MODES:
                raise ImproperlyConfigured(f"DATABASE_URL option {key}={value!r}: use one of "
                                           f"{', '.join(MYSQL_SSL_MODES)}")
            options["ssl_mode"] = mode
        elif name.startswith("ssl_") and name[4:] in MYSQL_SSL_FILES:
            ssl_files[name[4:]] = str(value)
        elif name in MYSQL_PASSTHROUGH_OPTIONS:
            options[name] = value
        else:
            raise ImproperlyConfigured(
                f"unknown DATABASE_URL option {key!r}; accepted: ssl-mode, "
                f"{', '.join('ssl-' + f for f in MYSQL_SSL_FILES)}, ssl, "
                f"{', '.join(sorted(MYSQL_PASSTHROUGH_OPTIONS))}")
    if ssl_files:
        options["ssl"] = ssl_files
        # As the mysql client does: a CA given without a mode means verify the server against it.
        if "ca" in ssl_files or "capath" in ssl_files:
            options.setdefault("ssl_mode", "VERIFY_CA")
    return options


def database_from_url(url, *, conn_max_age=60):
    """DATABASE_URL → Django DATABASES entry, tuned per engine.

    MySQL/MariaDB: utf8mb4 and READ COMMITTED, so a consumer that has just taken the campaign row
    lock sees every decision committed before it (REPEATABLE READ would pin an older snapshot).
    SQLite (the embedded default): WAL so the web workers read while the consumer writes, and
    IMMEDIATE transactions so two writers queue instead of failing with 'database is locked'.
    Options in the URL's query string are added to these and win over them (mysql_options).
    """
    config = dj_database_url.parse(url, conn_max_age=conn_max_age)
    if config["ENGINE"] == "django.db.backends.mysql":
        config["OPTIONS"] = {"charset": "utf8mb4", "isolation_level": "read committed",
                             **mysql_options(config.get("OPTIONS", {}))}
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_bin"}
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            **config.get("OPTIONS", {}),
        }
    return config


DATABASE_URL = env.url("DATABASE_URL", schemes=tuple(dj_database_url.ENGINE_SCHEMES))
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", 60, minimum=0)
if not DATABASE_URL:  # the embedded default: a SQLite file under var/
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'firstcome.sqlite3'}"
DATABASES = {"default": database_from_url(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every sign-in (HTTP Basic on the API, the admin login form) runs a slow password hash, even for
# an unknown username: failed ones are counted and, past these limits, refused before hashing
# (campaign_site/authentication.py). "N/<period>" (10/5m, 30/m, 100/h) or "off".
AUTHENTICATION_BACKENDS = ["campaign_site.authentication.ThrottledModelBackend"]
FIRSTCOME_LOGIN_FAILURE_LIMITS = {  # scope → (failures, window seconds) or None
    "client": env.rate("FIRSTCOME_LOGIN_FAILURES_PER_CLIENT", "10/5m"),  # REMOTE_ADDR
    "username": env.rate("FIRSTCOME_LOGIN_FAILURES_PER_USERNAME", "10/5m"),
    # Whatever addresses and usernames a flood uses: caps the hashes it costs each web process.
    "process": env.rate("FIRSTCOME_LOGIN_FAILURES_PER_PROCESS", "30/m"),
}
FIRSTCOME_LOGIN_THROTTLE_CACHE = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.time_zone("TIME_ZONE", "Asia/Seoul")  # the original campaign ran in Korea
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

# Participation bodies are tiny; refuse anything large before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024, minimum=0)

# Per-user rate of POST /api/campaigns/{id}/participations ("N/s", "N/m", or "off"), counted in
# the `throttle` cache: per process by default, see campaigns/throttles.py for the trade-off.
FIRSTCOME_PARTICIPATION_RATE = env.str("FIRSTCOME_PARTICIPATION_RATE", "5/s")
FIRSTCOME_THROTTLE_CACHE = "throttle"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Keys live one rate period, so MAX_ENTRIES is how many users of one second are counted: the
    # users of a burst's busiest second must fit, or LocMem culls counts and lets some through.
    "throttle": {"BACKEND": "campaigns.throttles.ThrottleCache", "LOCATION": "throttle",
                 "OPTIONS": {"MAX_ENTRIES": 50_000}},
    # Failed sign-in counts: apart from the participation counts, which a burst could cull.
    "login": {"BACKEND": "campaigns.throttles.ThrottleCache", "LOCATION": "login"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",  # people, behind the sign-in throttle
        "identity.drf.ApiTokenAuthentication",  # staff API clients (tills): no password hash per request
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["campaign_site.parsers.JSONParser"],  # a nesting limit: 400, not 500
    "EXCEPTION_HANDLER": "campaign_site.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

from .identity import *  # noqa: E402,F401,F403  who a participant is

# /metrics (Prometheus): with a token, only requests carrying "Authorization: Bearer <token>".
# Without one it is open unless FIRSTCOME_METRICS_REQUIRE_TOKEN (production: refused).
FIRSTCOME_METRICS_TOKEN = env.str("FIRSTCOME_METRICS_TOKEN", "")
FIRSTCOME_METRICS_REQUIRE_TOKEN = False

# GET /api/schema/: the API's OpenAPI document (campaigns/schema.py).
SPECTACULAR_SETTINGS = {
    "TITLE": "firstcome",
    "DESCRIPTION": "First-come coupon issuing: participations go through Kafka, one decision per user.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/: Swagger UI from drf-spectacular-sidecar's static files (no CDN), no online validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Campaigns and batch runs both have a choice field "status": each enum gets its own name.
    "ENUM_NAME_OVERRIDES": {"BatchRunStatusEnum": "stats.models.BatchRun.Status"},
}

# --- Kafka -------------------------------------------------------------------------------
# The code speaks only the Kafka protocol (kafka-python): the same settings point it at the
# embedded Tansu broker or at an Apache Kafka cluster.
KAFKA_BOOTSTRAP_SERVERS = env.list("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
FIRSTCOME_TOPIC = env.str("FIRSTCOME_TOPIC", "firstcome.participations")
FIRSTCOME_DLQ_TOPIC = env.str("FIRSTCOME_DLQ_TOPIC", f"{FIRSTCOME_TOPIC}.dlq")
# The participation endpoint reads a campaign's opening window at most this often per process.
FIRSTCOME_CAMPAIGN_CACHE_S = env.float("FIRSTCOME_CAMPAIGN_CACHE_S", 1.0, minimum=0)
# While the database cannot be read, participations are still checked against the last window read
# for this long (an RDS Multi-AZ failover takes 60-120 s), then answered 503 with Retry-After.
FIRSTCOME_CAMPAIGN_STALE_S = env.float("FIRSTCOME_CAMPAIGN_STALE_S", 180.0, minimum=0)
# Decision events (one per decided request) for the statistics consumer.
FIRSTCOME_DECISIONS_TOPIC = env.str("FIRSTCOME_DECISIONS_TOPIC", "firstcome.decisions")
# Each web process reads those events to answer result lookups (campaigns/answers.py): the latest
# decisions it keeps, the messages it reads back at start, the long polls (?wait=S) it holds.
FIRSTCOME_RESULTS_CACHE_SIZE = env.int("FIRSTCOME_RESULTS_CACHE_SIZE", 100_000, minimum=0)
FIRSTCOME_RESULTS_LOOKBACK_MESSAGES = env.int("FIRSTCOME_RESULTS_LOOKBACK_MESSAGES", 20, minimum=0)
FIRSTCOME_RESULTS_MAX_WAITERS = env.int("FIRSTCOME_RESULTS_MAX_WAITERS", 10_000, minimum=0)
# Django's threads per web process (gunicorn.conf.py sets it from its `threads`; campaign_site/asgi.py).
# A long poll the fast path hands the DRF view holds one of them, so the view takes at most a
# third: the rest serve the admin, the health checks and the other hand-overs.
WEB_THREADS = env.int("GUNICORN_THREADS", 24, minimum=1)
FIRSTCOME_VIEW_MAX_WAITERS = max(1, WEB_THREADS // 3)
# Participations refused at the door (sold out) are counted in memory and written this often.
FIRSTCOME_REFUSALS_FLUSH_S = env.float("FIRSTCOME_REFUSALS_FLUSH_S", 5.0, minimum=0.1)
FIRSTCOME_GROUP_ID = env.str("FIRSTCOME_GROUP_ID", "firstcome-deciders")
# Each consumer's Prometheus metrics and /readyz (streaming/metrics.py); 0: off. consume_firstcome
# instance N (its systemd unit passes --instance N) listens on FIRSTCOME_CONSUMER_METRICS_PORT + N.
FIRSTCOME_CONSUMER_METRICS_PORT = env.int("FIRSTCOME_CONSUMER_METRICS_PORT", 0, minimum=0)
STATS_CONSUMER_METRICS_PORT = env.int("STATS_CONSUMER_METRICS_PORT", 0, minimum=0)
FIRSTCOME_CONSUMER_METRICS_ADDR = env.str("FIRSTCOME_CONSUMER_METRICS_ADDR", "0.0.0.0")
FIRSTCOME_PARTITIONS = env.int("FIRSTCOME_PARTITIONS", 1, minimum=1)
# "campaign": one campaign's requests share a partition and keep their arrival order.
# "user": the original design's key; a campaign's requests spread over all partitions.
FIRSTCOME_MESSAGE_KEY = env.str("FIRSTCOME_MESSAGE_KEY", "campaign", choices=("campaign", "user"))
KAFKA_REPLICATION_FACTOR = env.int("KAFKA_REPLICATION_FACTOR", 1, minimum=1)
# Copies a write needs before the broker acknowledges it (acks=all); set on the topics that
# create_topics makes. One less than the replicas by default, so one broker may be lost.
KAFKA_MIN_INSYNC_REPLICAS = env.int("KAFKA_MIN_INSYNC_REPLICAS", max(1, min(2, KAFKA_REPLICATION_FACTOR - 1)),
                                    minimum=1)
if KAFKA_MIN_INSYNC_REPLICAS > KAFKA_REPLICATION_FACTOR:
    raise ImproperlyConfigured(f"KAFKA_MIN_INSYNC_REPLICAS={KAFKA_MIN_INSYNC_REPLICAS} is more than "
                               f"KAFKA_REPLICATION_FACTOR={KAFKA_REPLICATION_FACTOR}: no write could be acknowledged")
# A 202 waits for the broker's ack; past this budget the request is answered 503. The default
# keeps the whole answer (queueing and Django included) under 2 s when the broker dies
# mid-request (docs/decisions.md, "A publish budget and a circuit breaker").
KAFKA_PUBLISH_TIMEOUT_MS = env.int("KAFKA_PUBLISH_TIMEOUT_MS", 1500, minimum=1)
# How long the producer waits to fill a batch: sends arriving meanwhile share one produce round
# trip; why it stays short: docs/decisions.md, "KAFKA_LINGER_MS stays 1 ms".
KAFKA_LINGER_MS = env.int("KAFKA_LINGER_MS", 1, minimum=0)
# Group join on the embedded broker takes about half the session timeout: keep it short.
KAFKA_SESSION_TIMEOUT_MS = env.int("KAFKA_SESSION_TIMEOUT_MS", 10000, minimum=1)
KAFKA_HEARTBEAT_INTERVAL_MS = env.int("KAFKA_HEARTBEAT_INTERVAL_MS", 1000, minimum=1)
# How long a fetch may wait for streaming.worker.FETCH_MIN_BYTES: what an idle stream adds to a
# decision's latency; shorter, the embedded broker answers a backlog in small pieces.
KAFKA_FETCH_MAX_WAIT_MS = env.int("KAFKA_FETCH_MAX_WAIT_MS", 50, minimum=0)
KAFKA_MAX_POLL_RECORDS = env.int("KAFKA_MAX_POLL_RECORDS", 5000, minimum=1)
# The dashboard's snapshot reports a broker that does not answer within this as unavailable.
MONITORING_KAFKA_TIMEOUT_MS = env.int("MONITORING_KAFKA_TIMEOUT_MS", 1000, minimum=1)

# --- Statistics (off the hot path) -------------------------------------------------------
# consume_stats stores the decision events raw; run_stats_batch aggregates them per campaign and
# day (days in TIME_ZONE) into campaign_stats, daily from cron (django-crontab).
STATS_GROUP_ID = env.str("STATS_GROUP_ID", "firstcome-stats")
STATS_DLQ_TOPIC = env.str("STATS_DLQ_TOPIC", f"{FIRSTCOME_DECISIONS_TOPIC}.dlq")
# Messages per stats transaction; each carries a batch of events (campaigns.messages).
STATS_MAX_POLL_RECORDS = env.int("STATS_MAX_POLL_RECORDS", 20, minimum=1)
STATS_BATCH_AT = env.str("STATS_BATCH_AT", "02:00")  # in TIME_ZONE, as the original's 02:00 KST
# cron fires on the host clock: see campaign_site/schedule.py for why the time is converted here.
try:
    STATS_BATCH_SCHEDULE = daily_schedule(STATS_BATCH_AT, TIME_ZONE,
                                          host_time_zone(env.time_zone("CRON_HOST_TIME_ZONE")))
except ValueError as error:
    raise ImproperlyConfigured(f"STATS_BATCH_AT={STATS_BATCH_AT!r}: use HH:MM (00:00-23:59)") from error
CRONJOBS = [(STATS_BATCH_SCHEDULE, "django.core.management.call_command", ["run_stats_batch"])]
CRONTAB_DJANGO_MANAGE_PATH = str(BASE_DIR / "manage.py")
CRONTAB_DJANGO_SETTINGS_MODULE = env.str("DJANGO_SETTINGS_MODULE")  # the job runs with the settings that added it
CRONTAB_LOCK_JOBS = True  # a run still going at the next tick is not started twice
# Each run's output is appended here (cron would mail it, and most servers have no MTA).
STATS_BATCH_LOG = Path(env.str("STATS_BATCH_LOG", str(VAR_DIR / "stats_batch.log")))
CRONTAB_COMMAND_SUFFIX = f">> {shlex.quote(str(STATS_BATCH_LOG))} 2>&1"
with contextlib.suppress(OSError):  # a missing directory would make cron skip the job
    STATS_BATCH_LOG.parent.mkdir(parents=True, exist_ok=True)

# /readyz answers within this many seconds whatever its dependencies do: keep it under the load
# balancer's health-check timeout.
READINESS_TIMEOUT_S = env.float("READINESS_TIMEOUT_S", 1.5, minimum=0)

# --- Experiments (manage.py burst_report) ---------------------------------------------------
# POST /api/campaigns/{id}/participations/sync?strategy=naive|atomic|locked decides inside the
# web request, without Kafka, to measure what Kafka buys. Off unless turned on; answers loopback
# clients only; production settings refuse to start with it on.
FIRSTCOME_EXPERIMENT_ENDPOINTS = env.bool("FIRSTCOME_EXPERIMENT_ENDPOINTS", False)
# Test-only: seconds the naive and locked strategies wait between reading the stock and writing
# it back, so a test can make the naive strategy's race happen every time.
FIRSTCOME_SYNC_RACE_WINDOW_S = 0

# Plain lines here; production turns on JSON (campaign_site/logging_config.py).
LOG_LEVEL = env.log_level("LOG_LEVEL", "INFO")
KAFKA_LOG_LEVEL = env.log_level("KAFKA_LOG_LEVEL", "WARNING")
LOG_JSON = False
LOGGING = django_logging(level=LOG_LEVEL, kafka_level=KAFKA_LOG_LEVEL, json=LOG_JSON)

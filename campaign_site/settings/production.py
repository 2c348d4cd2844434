"""Production: safe by default. Every secret and address comes from the environment; a missing
required one stops the process at start-up instead of running with a default. The full list of
variables, with comments, is .env.example; `manage.py check --deploy` passes with it.

Behind an AWS ALB: TLS ends at the load balancer, which forwards plain HTTP with
X-Forwarded-Proto; the health checks (/healthz, /readyz) are answered before host validation
and the HTTPS redirect (campaign_site.middleware.HealthCheckMiddleware).
"""
from django.core.exceptions import ImproperlyConfigured

from campaign_site.logging_config import django_logging

from .base import *  # noqa: F401,F403
from .base import ALLOWED_HOSTS, DATABASES, KAFKA_LOG_LEVEL, LOG_LEVEL, SECRET_KEY, env


def required(name, value):
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production (see .env.example)")
    return value


# base.py read these; here a missing one is an error instead of a default.
required("DJANGO_SECRET_KEY", SECRET_KEY)
# Keys being rotated out: sessions and signed values made with them stay valid meanwhile.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS")
required("DJANGO_ALLOWED_HOSTS", ALLOWED_HOSTS)
# Scheme + host of every origin that posts forms or session-authenticated API calls (the admin).
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS")

# No SQLite fallback and no local broker default: a missing address is a configuration error.
required("DATABASE_URL", env.url("DATABASE_URL"))
required("KAFKA_BOOTSTRAP_SERVERS", env.list("KAFKA_BOOTSTRAP_SERVERS"))
# Persistent connections (DB_CONN_MAX_AGE) are checked before reuse, so a database failover
# costs one reconnect instead of one failed request per stale connection.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- HTTPS behind the load balancer ---------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# One year, as the HSTS preload list requires. Sending `preload` does not enrol the domain:
# that is a separate, deliberate submission (hstspreload.org).
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", True)

# --- static files: collectstatic at deploy, served by WhiteNoise from the web process ---------
# Hashed names + pre-compressed copies, cached forever by browsers and the CDN/ALB in front.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- logs: one JSON object per line on stdout (journald / CloudWatch agent ship them) ---------
LOG_JSON = True
LOGGING = django_logging(level=LOG_LEVEL, kafka_level=KAFKA_LOG_LEVEL, json=LOG_JSON)

# --- cron (django-crontab; `manage.py crontab add` runs at every install) ----------------------
# cron starts jobs with an empty environment: each job line first loads the same env file the
# systemd units use.
FIRSTCOME_ENV_FILE = env.str("FIRSTCOME_ENV_FILE", "/etc/firstcome/firstcome.env")
CRONTAB_COMMAND_PREFIX = f"set -a; . '{FIRSTCOME_ENV_FILE}'; set +a;"
CRONTAB_EXECUTABLE = env.str("CRONTAB_EXECUTABLE", "/usr/bin/crontab")

# --- /metrics: only for the scraper's bearer token; without a token it answers 403 -------------
FIRSTCOME_METRICS_REQUIRE_TOKEN = True
if FIRSTCOME_METRICS_TOKEN and len(FIRSTCOME_METRICS_TOKEN) < 32:  # noqa: F405
    raise ImproperlyConfigured("FIRSTCOME_METRICS_TOKEN must be at least 32 characters (see .env.example)")

# .env.example's secrets begin with this: copied into a deployment, they are public.
EXAMPLE_PREFIX = "example-only"
for _name, _value in (("DJANGO_SECRET_KEY", SECRET_KEY), ("FIRSTCOME_METRICS_TOKEN", FIRSTCOME_METRICS_TOKEN)):  # noqa: F405
    if _value and _value.startswith(EXAMPLE_PREFIX):
        raise ImproperlyConfigured(f"{_name} is the example value from .env.example: generate one of your own")

# --- Kafka durability: a 202 survives the loss of a broker ------------------------------------
# acks=all waits for min.insync.replicas copies; with fewer than 3 replicas or fewer than 2 in
# sync, losing one broker can lose an acknowledged request (docs/guarantees.md, "Replication").
# A single-broker environment (a staging box) says so explicitly, and is logged at every start.
KAFKA_SINGLE_BROKER = env.bool("KAFKA_SINGLE_BROKER", False)
if KAFKA_SINGLE_BROKER:
    import logging

    logging.getLogger("firstcome.settings").warning(
        "KAFKA_SINGLE_BROKER is on: topics with %d replica(s); an acknowledged request does not survive the loss "
        "of its broker", KAFKA_REPLICATION_FACTOR)  # noqa: F405
elif KAFKA_REPLICATION_FACTOR < 3 or KAFKA_MIN_INSYNC_REPLICAS < 2:  # noqa: F405
    raise ImproperlyConfigured(
        f"KAFKA_REPLICATION_FACTOR={KAFKA_REPLICATION_FACTOR} and KAFKA_MIN_INSYNC_REPLICAS="  # noqa: F405
        f"{KAFKA_MIN_INSYNC_REPLICAS}: production needs at least 3 and 2, so that a 202 survives the loss of a "  # noqa: F405
        "broker; set KAFKA_SINGLE_BROKER=true only where there is one broker")

# --- identity: a verified token, from the identity provider's keys -----------------------------
if FIRSTCOME_IDENTITY != "jwt":  # noqa: F405
    raise ImproperlyConfigured("FIRSTCOME_IDENTITY must be jwt in production: body mode lets anyone act as any "
                               "user (docs/guarantees.md, \"Who may do what\")")
if len([s for s in (FIRSTCOME_JWT_JWKS_FILE, FIRSTCOME_JWT_JWKS_URL, FIRSTCOME_JWT_ALB_KEYS_URL) if s]) != 1:  # noqa: F405
    raise ImproperlyConfigured("set exactly one of FIRSTCOME_JWT_JWKS_URL, FIRSTCOME_JWT_JWKS_FILE and "
                               "FIRSTCOME_JWT_ALB_KEYS_URL (see .env.example)")
required("FIRSTCOME_JWT_ISSUER", FIRSTCOME_JWT_ISSUER)  # noqa: F405
if FIRSTCOME_JWT_ALB_KEYS_URL:  # noqa: F405  an ALB's tokens carry no audience: its ARN signs them
    required("FIRSTCOME_JWT_ALB_SIGNER", FIRSTCOME_JWT_ALB_SIGNER)  # noqa: F405
else:
    required("FIRSTCOME_JWT_AUDIENCE", FIRSTCOME_JWT_AUDIENCE)  # noqa: F405

if FIRSTCOME_EXPERIMENT_ENDPOINTS:  # noqa: F405
    raise ImproperlyConfigured("FIRSTCOME_EXPERIMENT_ENDPOINTS must stay off in production: the "
                               "synchronous experiment endpoints bypass Kafka and can oversell")

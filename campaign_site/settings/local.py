"""Developer machine and the one-command demo: DEBUG on, an insecure key, any host."""
from .base import *  # noqa: F401,F403
from .base import env

DEBUG = True
SECRET_KEY = env.str("DJANGO_SECRET_KEY", "local-insecure-key-do-not-use-in-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", "*")

# Serve static files straight from the apps (no collectstatic needed on a developer machine).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
INSTALLED_APPS = [*INSTALLED_APPS, "lab"]  # noqa: F405  experiments and the local stack, never in production

# The embedded broker (this settings module's default) answers fetches on a topic named longer
# than about 20 characters a producer batch at a time once it meets a batch of several requests,
# 5-10x more polls (docs/benchmarks.md, "The embedded broker's topic names"). Apache Kafka has no
# such limit, so production keeps base's names.
FIRSTCOME_TOPIC = env.str("FIRSTCOME_TOPIC", "fc.requests")
FIRSTCOME_DLQ_TOPIC = env.str("FIRSTCOME_DLQ_TOPIC", f"{FIRSTCOME_TOPIC}.dlq")

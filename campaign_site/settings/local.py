"""Developer machine and the one-command demo: DEBUG on, an insecure key, any host."""
from .base import *  # noqa: F401,F403
from .identity import development_issuer
from .base import env

DEBUG = True
SECRET_KEY = env.str("DJANGO_SECRET_KEY", "local-insecure-key-do-not-use-in-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", "*")

# Serve static files straight from the apps (no collectstatic needed on a developer machine).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Identity on, from the development issuer's keys in var/ unless a key source is set.
globals().update(development_issuer(VAR_DIR))  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "lab"]  # noqa: F405  experiments and the local stack, never in production

from .embedded_broker import *  # noqa: E402,F401,F403  short topic names (why: that module)

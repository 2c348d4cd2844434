"""The test suite: the real MariaDB (never SQLite or a mock) and a real broker process that the
fixtures start; DEBUG stays off so the tests see production error handling."""
from .base import *  # noqa: F401,F403
from .identity import development_issuer
from .base import database_from_url, env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", "test-insecure-key")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", "*")  # a test restricts it for its server

# DATABASE_URL names the server and a base name; pytest-django creates and drops test_<name>.
DATABASES = {"default": database_from_url(env.url("DATABASE_URL", "mysql://root@127.0.0.1:3306/firstcome"),
                                          conn_max_age=0)}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
# Identity on, from the development issuer's keys in var/ unless a key source is set.
globals().update(development_issuer(VAR_DIR))  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "lab"]  # noqa: F405  experiments and the local stack, never in production

from .embedded_broker import *  # noqa: E402,F401,F403  short topic names (why: that module)

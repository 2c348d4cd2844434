"""Production: safe by default. Every secret and address comes from the environment; a missing
required one stops the process at start-up instead of running with a default."""
from .base import *  # noqa: F401,F403
from .base import env, env_list
from django.core.exceptions import ImproperlyConfigured

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the host names served")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
if FIRSTCOME_EXPERIMENT_ENDPOINTS:  # noqa: F405
    raise ImproperlyConfigured("FIRSTCOME_EXPERIMENT_ENDPOINTS must stay off in production: the "
                               "synchronous experiment endpoints bypass Kafka and can oversell")

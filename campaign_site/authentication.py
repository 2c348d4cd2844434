"""Who may run a password hash, and who may read /metrics.

Sign-in throttle. Checking a password costs one deliberately slow hash (PBKDF2), and an
unknown username costs one as well (Django hashes anyway, so timing does not tell which names
exist). Every sign-in goes through ThrottledModelBackend: HTTP Basic on the API (admin API,
monitoring snapshot, schema) and the admin login form. Failed sign-ins are counted per client
address, per username and per process in the `login` cache; once a count reaches its limit
(settings.FIRSTCOME_LOGIN_FAILURE_LIMITS) further attempts are refused before any hashing, 429
with Retry-After on the API and a form error on the admin login page. The per-process count is
the bound nobody can dodge by changing address or username: a flood of bad credentials costs at
most that many hashes per window per web process, however it is spread. Successful sign-ins are
not counted. Counts are per process (LocMem), like the participation throttle: point
CACHES["login"] at a shared cache for one fleet-wide count.

Metrics. /metrics is answered ahead of host validation and the HTTPS redirect, like the health
checks (Prometheus scrapes each instance over plain HTTP by its private address), and only to a
caller with the bearer token FIRSTCOME_METRICS_TOKEN. Without a token it is open where
FIRSTCOME_METRICS_REQUIRE_TOKEN is off (local, test) and refused where it is on (production).
"""
import hashlib
import hmac

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django_prometheus.exports import ExportToDjangoView
from rest_framework.exceptions import Throttled

from campaign_site.middleware import read_only_refusal


class LoginThrottled(Throttled):
    """Too many failed sign-ins: refused before the password is hashed."""

    default_code = "login_throttled"

    def __init__(self, *, wait: int):
        message = f"too many failed sign-ins; try again in {wait} seconds"
        super(Throttled, self).__init__({"detail": message, "code": self.default_code})
        self.message, self.wait = message, wait


def _counter_keys(*, request, username) -> dict[str, str]:
    """scope → cache key; hashed, since usernames and addresses may hold anything."""
    client = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    idents = {"client": client, "username": str(username).casefold(), "process": ""}

    def key(scope, ident):
        return f"login:{scope}:{hashlib.blake2b(ident.encode(errors='surrogatepass'), digest_size=16).hexdigest()}"

    return {scope: key(scope, ident) for scope, ident in idents.items()}


def login_attempt_check(*, request, username) -> None:
    """Raise LoginThrottled when a failure count of this attempt has reached its limit."""
    limits = settings.FIRSTCOME_LOGIN_FAILURE_LIMITS
    keys = {scope: key for scope, key in _counter_keys(request=request, username=username).items() if limits.get(scope)}
    counts = caches[settings.FIRSTCOME_LOGIN_THROTTLE_CACHE].get_many(keys.values())
    waits = [limits[scope][1] for scope, key in keys.items() if counts.get(key, 0) >= limits[scope][0]]
    if waits:
        raise LoginThrottled(wait=max(waits))


def login_failure_record(*, request, username) -> None:
    """Count one failed sign-in in each scope; a count lives one window from its first failure."""
    cache = caches[settings.FIRSTCOME_LOGIN_THROTTLE_CACHE]
    limits = settings.FIRSTCOME_LOGIN_FAILURE_LIMITS
    for scope, key in _counter_keys(request=request, username=username).items():
        if limits.get(scope):
            cache.add(key, 0, timeout=limits[scope][1])
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr: a new window
                cache.add(key, 1, timeout=limits[scope][1])


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the failed sign-in throttle (module docstring)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None  # nothing to check: ModelBackend would not hash either
        login_attempt_check(request=request, username=username)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(request=request, username=username)
        return user


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login form: a throttled sign-in is a form error, not a server error."""

    def clean(self):
        try:
            return super().clean()
        except LoginThrottled as exc:
            raise ValidationError(exc.message, code=exc.default_code) from None


# --- /metrics --------------------------------------------------------------------------------
def metrics_refusal(request) -> JsonResponse | None:
    """Why this request may not read /metrics, as the answer to send; None if it may."""
    token = settings.FIRSTCOME_METRICS_TOKEN
    if not token:
        if not settings.FIRSTCOME_METRICS_REQUIRE_TOKEN:
            return None
        return JsonResponse({"detail": "metrics are disabled: FIRSTCOME_METRICS_TOKEN is not set",
                             "code": "metrics_disabled"}, status=403)
    scheme, _, offered = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
        return None
    response = JsonResponse({"detail": "metrics need the scrape token: Authorization: Bearer <token>",
                             "code": "not_authenticated"}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


class MetricsMiddleware:
    """Answers /metrics ahead of host validation and the HTTPS redirect (module docstring)."""

    path = "/metrics"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != self.path:
            return self.get_response(request)
        return read_only_refusal(request) or metrics_refusal(request) or ExportToDjangoView(request)

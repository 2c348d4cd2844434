"""Per-user rate limit of the participation endpoint.

Keyed on the body's user_id, not on the client address: load tests come from one address, and
behind the ALB every request comes from the balancer's. The rate (FIRSTCOME_PARTICIPATION_RATE,
"5/s" by default, "off" to disable) is one no honest user reaches: a user sends one request per
campaign, a double click two.

Counted in the `throttle` cache, LocMem by default: no database or network round trip on the hot
path (a few microseconds per request), but per process, so with W gunicorn workers on H hosts a
user can get up to W x H times the rate through before every process has refused them. That
still bounds a flood by a known factor, and the decision is never at stake (one coupon per user
is the database's unique key). Point CACHES["throttle"] at a shared cache (Memcached, Redis) for
one fleet-wide count, at the price of a network round trip per request.
"""
import hashlib

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import SimpleRateThrottle

from identity.drf import participant_of


class ParticipationUserThrottle(SimpleRateThrottle):
    scope = "participation"

    def __init__(self):
        self.cache = caches[settings.FIRSTCOME_THROTTLE_CACHE]
        super().__init__()

    def get_rate(self):
        rate = settings.FIRSTCOME_PARTICIPATION_RATE
        return None if rate in ("", "off") else rate

    def allow_request(self, request, view):
        """Counted for the credential's user (jwt mode), else the body's."""
        return self.allow(participant_of(request) or self.body_user(request))

    @staticmethod
    def body_user(request, key="user_id"):
        data = request.data
        return data.get(key) if isinstance(data, dict) else None

    def allow(self, user_id) -> bool:
        """Count one request of `user_id` and say whether it may go on: the one check behind both
        the DRF view and the ASGI fast path, which has the user id but no DRF request. An id that
        is not a non-empty string is not counted: the serializer refuses that body."""
        self.key = _cache_key(self.scope, user_id)
        return super().allow_request(None, None)  # DRF's sliding window, over the key just set

    def get_cache_key(self, request, view):
        return self.key


def _cache_key(scope, user_id):
    if not isinstance(user_id, str) or not user_id:
        return None
    # Hashed: a user id may hold characters and lengths a cache key must not (memcached).
    digest = hashlib.blake2b(user_id.encode(errors="surrogatepass"), digest_size=16).hexdigest()
    return f"throttle:{scope}:{digest}"


class ThrottleCache(LocMemCache):
    """LocMem for the throttle counts, without the memcached key check: the keys are fixed-length
    hex digests made above, and the check walked every character of every key twice per request
    (~5 % of a participation's CPU on the fast path)."""

    def validate_key(self, key):
        pass

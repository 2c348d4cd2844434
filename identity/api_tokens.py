"""Staff API tokens: made (the secret shown once), checked, revoked. The model: identity.models.

A checked token is remembered in this process for RECENT_S seconds (its account and that
account's permissions with it), so a till's burst costs a digest and a dictionary lookup per
request, not a query: a revoked token stops at once in the process that revoked it and within
RECENT_S everywhere else (docs/guarantees.md, "Who may do what")."""
import hashlib
import hmac
import re
import secrets
import threading
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from identity.models import ApiToken

PRESENTED = re.compile(r"fct_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# last_used_at is written at most this often per token: the check stays a read.
LAST_USED_EVERY = timedelta(minutes=1)
RECENT_S = 5.0
RECENT_MAX = 10_000
_recent: dict[str, tuple[object, float]] = {}  # digest -> (account, checked at, monotonic)
_recent_lock = threading.Lock()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`: (the row, the token to hand over, which is not kept)."""
    drawn = secrets.token_urlsafe(32)
    with transaction.atomic():
        row = ApiToken.objects.create(user=user, name=name, prefix=secrets.token_hex(6), digest=_digest(drawn))
    return row, f"fct_{row.prefix}_{drawn}"


def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    with _recent_lock:
        _recent.pop(token.digest, None)


def recent_forget() -> None:
    """Forget every remembered check (tests; an operator's revoke-everything)."""
    with _recent_lock:
        _recent.clear()


def api_token_user(*, presented: str):
    """The active account a presented token belongs to; None for anything else (unknown, revoked,
    malformed, a wrong secret, an inactive account)."""
    match = PRESENTED.fullmatch(presented)
    if match is None:
        return None
    digest = _digest(match[2])
    remembered = _recent.get(digest)
    if remembered is not None and time.monotonic() - remembered[1] < RECENT_S:
        return remembered[0]
    row = ApiToken.objects.select_related("user").filter(prefix=match[1], revoked_at__isnull=True).first()
    if row is None or not hmac.compare_digest(row.digest, digest) or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    with _recent_lock:
        if len(_recent) >= RECENT_MAX:
            _recent.clear()
        _recent[digest] = (row.user, time.monotonic())
    return row.user

"""Staff API tokens: made (the secret shown once), checked, revoked. The model: identity.models."""
import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from identity.models import ApiToken

PRESENTED = re.compile(r"fct_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# last_used_at is written at most this often per token: the check stays a read.
LAST_USED_EVERY = timedelta(minutes=1)


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


def api_token_user(*, presented: str):
    """The active account a presented token belongs to; None for anything else (unknown, revoked,
    malformed, a wrong secret, an inactive account)."""
    match = PRESENTED.fullmatch(presented)
    if match is None:
        return None
    row = ApiToken.objects.select_related("user").filter(prefix=match[1], revoked_at__isnull=True).first()
    if row is None or not hmac.compare_digest(row.digest, _digest(match[2])) or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user

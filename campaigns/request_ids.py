"""Request ids that the API can recognise without storing them.

The participation endpoint writes nothing to the database (Kafka is the only record of an
accepted request until the consumer decides it), so a result lookup cannot tell "accepted, not
decided yet" from "never issued" by reading the database. Each id therefore carries a short
HMAC of its random part: an id that verifies and has no row yet is PENDING; one that does not
verify was never issued here and is answered 404.

Layout: 10 random bytes (version and variant bits set inside them, 74 random bits left) followed
by the first 6 bytes of HMAC-SHA256(secret, those 10 bytes). It is labelled version 4: to anyone
without the secret it is indistinguishable from a random UUID, and MariaDB's native UUID column
rejects the RFC's "custom" version 8.
"""
import functools
import hashlib
import hmac
import os
import uuid

from django.conf import settings

_RANDOM_BYTES = 10
_TAG_BYTES = 6


@functools.lru_cache(maxsize=16)
def _derived(secret: str) -> bytes:
    return hashlib.sha256(b"firstcome.request-id:" + secret.encode()).digest()


def _key():
    return _derived(settings.SECRET_KEY)


def _keys():
    """The current key, then each of SECRET_KEY_FALLBACKS: an id tagged before a key rotation
    (or by the other half of a blue/green deployment) still verifies while its key is a fallback."""
    yield _key()
    for secret in getattr(settings, "SECRET_KEY_FALLBACKS", ()):
        yield _derived(secret)


def _tag(head: bytes, key: bytes) -> bytes:
    return hmac.new(key, head, hashlib.sha256).digest()[:_TAG_BYTES]


def new_request_id() -> uuid.UUID:
    head = bytearray(os.urandom(_RANDOM_BYTES))
    head[6] = (head[6] & 0x0F) | 0x40  # version 4
    head[8] = (head[8] & 0x3F) | 0x80  # RFC 9562 variant
    head = bytes(head)
    return uuid.UUID(bytes=head + _tag(head, _key()))


def is_issued_here(request_id: uuid.UUID) -> bool:
    raw = request_id.bytes
    head, tag = raw[:_RANDOM_BYTES], raw[_RANDOM_BYTES:]
    return any(hmac.compare_digest(tag, _tag(head, key)) for key in _keys())

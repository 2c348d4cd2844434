"""The public keys that sign participants' tokens, by key id, from one configured source:

- a JWKS document in a file (`FIRSTCOME_JWT_JWKS_FILE`; the development issuer writes one),
- a JWKS document at a URL (`FIRSTCOME_JWT_JWKS_URL`: Cognito, Auth0, Keycloak, any OIDC provider),
- one PEM per key id at `<FIRSTCOME_JWT_ALB_KEYS_URL>/<kid>` (an AWS ALB's OIDC action:
  `https://public-keys.auth.elb.<region>.amazonaws.com`).

Keys rotate without a restart: a key id not in the set makes the set read its source again, at
most once per `refresh_interval` seconds, so a flood of made-up key ids costs one fetch per
interval, not one per request.
"""
import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

log = logging.getLogger(__name__)

# A key id goes into a URL path (ALB): only characters that cannot walk out of it.
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
FETCH_TIMEOUT_S = 2.0
RETRY_AFTER_FAILURE_S = 5.0
MAX_DOCUMENT_BYTES = 256 * 1024


class KeySourceError(Exception):
    """The source could not be read or holds no usable key (logged, never shown to a client)."""


def public_key_from_jwk(jwk: dict):
    """A cryptography public key from one JWK (RSA or EC P-256); None for any other kind."""
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            key = RSAAlgorithm.from_jwk(jwk)
        elif kty == "EC" and jwk.get("crv") == "P-256":
            key = ECAlgorithm.from_jwk(jwk)
        else:
            return None
    except Exception:  # PyJWT raises several types for a malformed JWK
        return None
    return key.public_key() if hasattr(key, "private_bytes") else key


def keys_from_jwks(document: bytes) -> dict:
    """kid → public key of a JWKS document; keys without a kid, private-use-only or of another
    kind are left out."""
    try:
        parsed = json.loads(document)
    except ValueError as exc:
        raise KeySourceError(f"not JSON: {exc}") from None
    entries = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(entries, list):
        raise KeySourceError("no 'keys' list")
    keys = {}
    for jwk in entries:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or jwk.get("use", "sig") != "sig":
            continue
        key = public_key_from_jwk(jwk)
        if key is not None:
            keys[jwk["kid"]] = key
    return keys


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 (configured URL)
        body = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeySourceError(f"larger than {MAX_DOCUMENT_BYTES} bytes")
    return body


class KeySet:
    """Public keys by kid, read again from the source when asked for a kid it lacks (rate-limited).
    Thread-safe: the web tier's loop and Django's threads share one."""

    def __init__(self, *, load: Callable[[str | None], dict], refresh_interval: float,
                 clock: Callable[[], float] = time.monotonic):
        self._load = load  # kid (None: all) -> {kid: key}
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._keys: dict = {}
        self._last_load = None
        self._lock = threading.Lock()

    def get(self, kid: str):
        """The key, or None when it is not (yet) known here."""
        return self._keys.get(kid)

    def may_refresh(self) -> bool:
        return self._last_load is None or self._clock() - self._last_load >= self.refresh_interval

    def refresh(self, kid: str | None = None) -> None:
        """Read the source again (blocking: off the event loop), unless it was read within the
        interval. A source that fails keeps the keys already known."""
        with self._lock:
            if not self.may_refresh():
                return
            self._last_load = self._clock()
            try:
                loaded = self._load(kid)
            except (OSError, KeySourceError, ValueError) as exc:
                log.warning("identity: the signing keys could not be read: %s", exc)
                # Tried again sooner than a success would be: a start during an outage recovers.
                self._last_load -= max(0.0, self.refresh_interval - RETRY_AFTER_FAILURE_S)
                return
            self._keys = {**self._keys, **loaded} if kid is not None else loaded


def jwks_file_loader(path: Path):
    def load(_kid):
        try:
            return keys_from_jwks(Path(path).read_bytes())
        except FileNotFoundError:
            raise KeySourceError(f"no JWKS file at {path}") from None
    return load


def jwks_url_loader(url: str):
    return lambda _kid: keys_from_jwks(fetch(url))


def alb_loader(base_url: str):
    """AWS ALB: each key id is its own PEM document (ES256, P-256)."""
    def load(kid):
        if kid is None or not KEY_ID.fullmatch(kid):
            return {}
        key = load_pem_public_key(fetch(f"{base_url.rstrip('/')}/{kid}"))
        if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
            raise KeySourceError(f"key {kid} is neither EC nor RSA")
        return {kid: key}
    return load

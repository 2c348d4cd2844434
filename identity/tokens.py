"""Verifying a participant's token: a JWT (RS256 or ES256) signed by a configured key, from a
configured issuer, for a configured audience, not expired and already valid (with a small
leeway), naming its user in a configured claim (default `sub`).

One parser for plain JWTs and for an AWS ALB's `x-amzn-oidc-data`: the ALB pads its base64
segments, which PyJWT refuses (jpadilla/pyjwt#1209), and signs the segments as sent, padding
included. So the signature is checked over the token's own signing input with PyJWT's algorithm
objects (cryptography underneath), and the segments are decoded padded or not. The header's
`alg` must be one of the accepted asymmetric algorithms and match the key's type: `none`, HS256
with the public key as secret, or an RSA key offered for ES256 are refused before any check.

A verified token is kept (bounded, until its expiry) so that a user polling for a result costs
one dictionary lookup, not one signature check. Only verified tokens are kept: forged ones
cannot push valid ones out.
"""
import base64
import binascii
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from prometheus_client import Counter

from identity.keys import KEY_ID, KeySet
from identity.users import is_user_id

ALGORITHMS = {"RS256": (RSAAlgorithm(RSAAlgorithm.SHA256), rsa.RSAPublicKey),
              "ES256": (ECAlgorithm(ECAlgorithm.SHA256), ec.EllipticCurvePublicKey)}
MAX_TOKEN_BYTES = 8192
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*={0,2}")

REFUSALS = Counter("firstcome_identity_refusals_total",
                   "Participant credentials refused (401), by reason.", ["reason"])


class TokenRefused(Exception):
    """A credential that does not say who the request is: 401, with the reason."""

    http_status = 401

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail
        self.code = "not_authenticated" if reason == "missing" else "invalid_token"

    def body(self) -> dict:
        return {"detail": self.detail, "code": self.code}


REASONS = {
    "missing": "no credential: send Authorization: Bearer <token>",
    "malformed": "the token is not a JWT",
    "algorithm": "the token's algorithm is not accepted",
    "unknown_key": "the token is signed with a key this service does not know",
    "signature": "the token's signature does not verify",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet",
    "issuer": "the token is from another issuer",
    "audience": "the token is for another audience",
    "signer": "the token was signed by another load balancer",
    "user": "the token names no valid user",
}
for _reason in REASONS:
    REFUSALS.labels(_reason)


class KeysNeeded(Exception):
    """verify(may_fetch=False) met a key id it must read the key source for."""


def refuse(reason: str) -> TokenRefused:
    REFUSALS.labels(reason).inc()
    return TokenRefused(reason, REASONS[reason])


@dataclass(frozen=True)
class Parsed:
    header: dict
    claims: dict
    signing_input: bytes
    signature: bytes
    algorithm: str
    kid: str


def _decode_segment(segment: str) -> bytes:
    """base64url, with or without its padding (an ALB pads)."""
    if not _SEGMENT.fullmatch(segment):
        raise ValueError("not base64url")
    unpadded = segment.rstrip("=")
    return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))


def parse(token: str) -> Parsed:
    """The token's parts, or TokenRefused (malformed, algorithm)."""
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise refuse("malformed")
    head, body, signature = token.split(".")
    try:
        header = json.loads(_decode_segment(head))
        claims = json.loads(_decode_segment(body))
        raw_signature = _decode_segment(signature)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise refuse("malformed") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise refuse("malformed")
    algorithm, kid = header.get("alg"), header.get("kid")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise refuse("algorithm")
    if not isinstance(kid, str) or not KEY_ID.fullmatch(kid):
        raise refuse("unknown_key")
    return Parsed(header, claims, f"{head}.{body}".encode("ascii"), raw_signature, algorithm, kid)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Policy:
    """What a valid token must say (settings: campaign_site/settings/identity.py)."""

    algorithms: frozenset
    issuer: str | None
    audiences: frozenset  # empty: not checked (an ALB's tokens carry no audience; the signer is)
    user_claim: str
    leeway_s: float
    alb_signer: str | None = None


class TokenVerifier:
    def __init__(self, *, keys: KeySet, policy: Policy, cache_size: int = 100_000,
                 clock: Callable[[], float] = time.time):
        self.keys, self.policy = keys, policy
        self.cache_size = cache_size
        self._clock = clock
        self._verified: OrderedDict[str, tuple[str, float]] = OrderedDict()  # token -> (user, expiry)

    def cached(self, token: str) -> str | None:
        """The user of a token verified before and not expired since; None otherwise."""
        hit = self._verified.get(token)
        if hit is None:
            return None
        if hit[1] + self.policy.leeway_s <= self._clock():
            self._verified.pop(token, None)
            return None
        return hit[0]

    def verify(self, token: str, *, may_fetch: bool = True) -> str:
        """The token's user id, or TokenRefused with the reason. May read the key source once
        (rate-limited) for a key id it does not know; with may_fetch=False it raises KeysNeeded
        instead (the event loop then verifies on a thread: reading the source blocks)."""
        user = self.cached(token)
        if user is not None:
            return user
        parsed = parse(token)
        key = self.keys.get(parsed.kid)
        if key is None:
            if not may_fetch and self.keys.may_refresh():
                raise KeysNeeded(parsed.kid)
            self.keys.refresh(parsed.kid)
            key = self.keys.get(parsed.kid)
            if key is None:
                raise refuse("unknown_key")
        algorithm, key_type = ALGORITHMS[parsed.algorithm]
        if parsed.algorithm not in self.policy.algorithms or not isinstance(key, key_type):
            raise refuse("algorithm")
        if not algorithm.verify(parsed.signing_input, key, parsed.signature):
            raise refuse("signature")
        user, expiry = self._check_claims(parsed)
        self._remember(token, user, expiry)
        return user

    def _check_claims(self, parsed: Parsed) -> tuple[str, float]:
        claims, policy, now = parsed.claims, self.policy, self._clock()
        expiry = claims.get("exp")
        if not _number(expiry) or expiry + policy.leeway_s <= now:
            raise refuse("expired")
        not_before = claims.get("nbf")
        if not_before is not None and (not _number(not_before) or not_before - policy.leeway_s > now):
            raise refuse("not_yet_valid")
        if policy.issuer is not None and claims.get("iss") != policy.issuer:
            raise refuse("issuer")
        if policy.audiences:
            audience = claims.get("aud")
            offered = {audience} if isinstance(audience, str) else set(audience) if isinstance(audience, list) else set()
            if not any(isinstance(a, str) and a in policy.audiences for a in offered):
                raise refuse("audience")
        if policy.alb_signer is not None and parsed.header.get("signer") != policy.alb_signer:
            raise refuse("signer")
        user = claims.get(policy.user_claim)
        if not is_user_id(user):
            raise refuse("user")
        return user, float(expiry)

    def _remember(self, token: str, user: str, expiry: float) -> None:
        if self.cache_size <= 0:
            return
        self._verified[token] = (user, expiry)
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)

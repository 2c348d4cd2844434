"""The development issuer (local and test settings only): an RS256 key pair (as Cognito and most
OIDC providers sign) generated into var/ on first use, its JWKS beside it for the verifier (and served at /api/dev/jwks.json), and
mint(), which `manage.py issue_token`, the demo, the k6 scripts, the benchmarks and the lab use
to act as a user with identity on. Production refuses it (campaign_site/settings/production.py).
"""
import json
import os
import time
import uuid
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

DEFAULT_TTL_S = 3600


def _create(path: Path) -> None:
    """Write a new key pair to `path` unless another process did first (link is atomic)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    staging.write_text(json.dumps({"kid": f"dev-{uuid.uuid4().hex[:12]}", "private_pem": pem}))
    os.chmod(staging, 0o600)
    try:
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        staging.unlink()


@lru_cache(maxsize=4)
def signing_key(path: Path) -> tuple[str, object]:
    """(kid, private key) of the issuer whose key pair is at `path`, created on first use."""
    if not path.exists():
        _create(path)
    stored = json.loads(path.read_text())
    return stored["kid"], serialization.load_pem_private_key(stored["private_pem"].encode(), password=None)


def algorithm(key) -> str:
    """RS256 for an RSA key (what is made now), ES256 for the P-256 key an older var/ may hold."""
    return "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"


def jwks(path: Path) -> dict:
    kid, key = signing_key(path)
    to_jwk = ECAlgorithm.to_jwk if algorithm(key) == "ES256" else RSAAlgorithm.to_jwk
    public = json.loads(to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": kid, "use": "sig", "alg": algorithm(key)}]}


def write_jwks(key_path: Path, jwks_path: Path) -> None:
    """The JWKS file the verifier reads (atomically replaced)."""
    staging = jwks_path.with_name(f".{jwks_path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    staging.write_text(json.dumps(jwks(key_path)))
    os.replace(staging, jwks_path)


def mint(path: Path, user_id: str, *, issuer: str | None, audience: str | None, ttl_s: int = DEFAULT_TTL_S,
         user_claim: str = "sub", now: float | None = None, **claims) -> str:
    """A token for `user_id` from the issuer whose key pair is at `path`, valid for `ttl_s`
    seconds; `claims` override or add (tests)."""
    kid, key = signing_key(path)
    issued = int(time.time() if now is None else now)
    payload = {user_claim: user_id, "iat": issued, "nbf": issued, "exp": issued + ttl_s,
               **({"iss": issuer} if issuer else {}), **({"aud": audience} if audience else {}), **claims}
    return jwt.encode(payload, key, algorithm=algorithm(key), headers={"kid": kid})

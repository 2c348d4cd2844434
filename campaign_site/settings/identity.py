"""Who a participant is (identity/): a JWT verified against configured public keys, or, where an
operator asks for the original's trust, the body's user id. The trust model: docs/guarantees.md,
"Who may do what". Every variable: .env.example."""
from django.core.exceptions import ImproperlyConfigured

from campaign_site.environment import env

# jwt: the user is the token's claim, a body user_id must match it (403 otherwise).
# body: the original's contract, no credential anywhere (refused by the production settings).
FIRSTCOME_IDENTITY = env.str("FIRSTCOME_IDENTITY", "jwt", choices=("jwt", "body"))
# Authorization carries "Bearer <token>"; any other header carries the token alone (an AWS ALB's
# OIDC action: x-amzn-oidc-data, with FIRSTCOME_JWT_ALB_KEYS_URL and FIRSTCOME_JWT_ALB_SIGNER).
FIRSTCOME_JWT_HEADER = env.str("FIRSTCOME_JWT_HEADER", "Authorization")
# Exactly one key source.
FIRSTCOME_JWT_JWKS_FILE = env.str("FIRSTCOME_JWT_JWKS_FILE", "")
FIRSTCOME_JWT_JWKS_URL = env.url("FIRSTCOME_JWT_JWKS_URL", "", schemes=("https", "http")) or ""
FIRSTCOME_JWT_ALB_KEYS_URL = env.url("FIRSTCOME_JWT_ALB_KEYS_URL", "", schemes=("https", "http")) or ""
FIRSTCOME_JWT_ALB_SIGNER = env.str("FIRSTCOME_JWT_ALB_SIGNER", "")  # the ALB's ARN, in the token's header
FIRSTCOME_JWT_ISSUER = env.str("FIRSTCOME_JWT_ISSUER", "")
FIRSTCOME_JWT_AUDIENCE = env.list("FIRSTCOME_JWT_AUDIENCE")
FIRSTCOME_JWT_ALGORITHMS = env.list("FIRSTCOME_JWT_ALGORITHMS", "RS256,ES256")
FIRSTCOME_JWT_USER_CLAIM = env.str("FIRSTCOME_JWT_USER_CLAIM", "sub")
FIRSTCOME_JWT_LEEWAY_S = env.float("FIRSTCOME_JWT_LEEWAY_S", 30, minimum=0)
# An unknown key id reads the key source again at most this often (rotation without a restart).
FIRSTCOME_JWT_KEYS_REFRESH_S = env.float("FIRSTCOME_JWT_KEYS_REFRESH_S", 60, minimum=0)
# Verified tokens kept per process, each until its expiry.
FIRSTCOME_JWT_CACHE_SIZE = env.int("FIRSTCOME_JWT_CACHE_SIZE", 100_000, minimum=0)
# The development issuer (identity/dev_issuer.py): local and test settings turn it on.
FIRSTCOME_DEV_ISSUER = False

if not set(FIRSTCOME_JWT_ALGORITHMS) or not set(FIRSTCOME_JWT_ALGORITHMS) <= {"RS256", "ES256"}:
    raise ImproperlyConfigured(f"FIRSTCOME_JWT_ALGORITHMS: RS256 and/or ES256, got {FIRSTCOME_JWT_ALGORITHMS}")


def development_issuer(var_dir) -> dict:
    """The settings of the development issuer's keys in var_dir, unless another key source is
    set (a child process is handed its parent's: the same file)."""
    jwks_file = str(var_dir / "dev-issuer" / "jwks.json")
    if FIRSTCOME_JWT_JWKS_FILE not in ("", jwks_file) or FIRSTCOME_JWT_JWKS_URL or FIRSTCOME_JWT_ALB_KEYS_URL:
        return {"FIRSTCOME_DEV_ISSUER": False}
    return {"FIRSTCOME_DEV_ISSUER": True,
            "FIRSTCOME_JWT_JWKS_FILE": jwks_file,
            "FIRSTCOME_JWT_ISSUER": FIRSTCOME_JWT_ISSUER or "firstcome-dev",
            "FIRSTCOME_JWT_AUDIENCE": FIRSTCOME_JWT_AUDIENCE or ["firstcome"]}

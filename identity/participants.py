"""The participant a request comes from, for every path that asks (the web tier's event loop and
the DRF views): the configured header's credential, verified by one TokenVerifier per process,
built from settings (campaign_site/settings/identity.py) on first use."""
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from identity import dev_issuer
from identity.keys import KeySet, alb_loader, jwks_file_loader, jwks_url_loader
from identity.tokens import Policy, TokenRefused, TokenVerifier, refuse

_lock = threading.Lock()
_verifier: TokenVerifier | None = None


def jwt_mode() -> bool:
    """Identity from a verified token (the default); False: the body's user id is trusted
    (FIRSTCOME_IDENTITY=body, the original's contract, refused in production)."""
    return settings.FIRSTCOME_IDENTITY == "jwt"


def header_name() -> str:
    """The header that carries the credential, lower case (ASGI's spelling)."""
    return settings.FIRSTCOME_JWT_HEADER.lower()


def meta_key() -> str:
    """The same header as Django's request.META names it."""
    return "HTTP_" + settings.FIRSTCOME_JWT_HEADER.upper().replace("-", "_")


def token_in(value: str | None) -> str | None:
    """The token a header value carries: "Bearer <token>" in Authorization, the whole value in
    any other header (an ALB's x-amzn-oidc-data). None: no token there (another scheme, such as
    a staff member's Basic, is some other authentication's to read)."""
    if value is None:
        return None
    if header_name() != "authorization":
        return value.strip() or None
    scheme, _, credential = value.partition(" ")
    return credential.strip() or None if scheme.lower() == "bearer" else None


def dev_key_path() -> Path:
    return Path(settings.VAR_DIR) / "dev-issuer" / "key.json"


def _key_set() -> KeySet:
    sources = {name: getattr(settings, name) for name in
               ("FIRSTCOME_JWT_JWKS_FILE", "FIRSTCOME_JWT_JWKS_URL", "FIRSTCOME_JWT_ALB_KEYS_URL")}
    chosen = [name for name, value in sources.items() if value]
    if len(chosen) != 1:
        raise ImproperlyConfigured("FIRSTCOME_IDENTITY=jwt needs exactly one key source: "
                                   f"FIRSTCOME_JWT_JWKS_FILE, _JWKS_URL or _ALB_KEYS_URL (set: {chosen or 'none'})")
    name, value = chosen[0], sources[chosen[0]]
    if name == "FIRSTCOME_JWT_JWKS_FILE":
        path = Path(value)
        if settings.FIRSTCOME_DEV_ISSUER and not path.exists():
            dev_issuer.write_jwks(dev_key_path(), path)
        load = jwks_file_loader(path)
    elif name == "FIRSTCOME_JWT_JWKS_URL":
        load = jwks_url_loader(value)
    else:
        load = alb_loader(value)
    return KeySet(load=load, refresh_interval=settings.FIRSTCOME_JWT_KEYS_REFRESH_S)


def verifier() -> TokenVerifier:
    global _verifier
    if _verifier is None:
        with _lock:
            if _verifier is None:
                keys = _key_set()
                keys.refresh()  # the keys known at start; an unknown kid reads the source again
                _verifier = TokenVerifier(keys=keys, cache_size=settings.FIRSTCOME_JWT_CACHE_SIZE, policy=Policy(
                    algorithms=frozenset(settings.FIRSTCOME_JWT_ALGORITHMS),
                    issuer=settings.FIRSTCOME_JWT_ISSUER or None,
                    audiences=frozenset(settings.FIRSTCOME_JWT_AUDIENCE),
                    user_claim=settings.FIRSTCOME_JWT_USER_CLAIM,
                    leeway_s=settings.FIRSTCOME_JWT_LEEWAY_S,
                    alb_signer=settings.FIRSTCOME_JWT_ALB_SIGNER or None))
    return _verifier


def identify(token: str | None) -> str:
    """The user id a token proves, or TokenRefused (401) with the reason; None: no credential."""
    if token is None:
        raise refuse("missing")
    return verifier().verify(token)


def mint(user_id: str, *, ttl_s: int = dev_issuer.DEFAULT_TTL_S, **claims) -> str:
    """A development token for `user_id` that this process's verifier accepts."""
    if not settings.FIRSTCOME_DEV_ISSUER:
        raise ImproperlyConfigured("the development issuer is off (FIRSTCOME_DEV_ISSUER): tokens come from "
                                   "the identity provider")
    verifier()  # writes the JWKS the verifier reads, if it is the first use
    return dev_issuer.mint(dev_key_path(), user_id, ttl_s=ttl_s, issuer=settings.FIRSTCOME_JWT_ISSUER,
                           audience=(settings.FIRSTCOME_JWT_AUDIENCE or [None])[0],
                           user_claim=settings.FIRSTCOME_JWT_USER_CLAIM, **claims)


def reset() -> None:
    """Forget the verifier (its settings changed): the next request builds it again."""
    global _verifier
    with _lock:
        _verifier = None


def _on_setting_changed(setting, **kwargs):
    if setting.startswith(("FIRSTCOME_JWT_", "FIRSTCOME_DEV_ISSUER", "VAR_DIR")):
        reset()


setting_changed.connect(_on_setting_changed)

__all__ = ["TokenRefused", "header_name", "identify", "jwt_mode", "meta_key", "mint", "token_in", "verifier"]

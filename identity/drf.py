"""Participants on the DRF views: their token as DRF authentication, and the permissions that ask
for it. In body mode (FIRSTCOME_IDENTITY=body) no credential is read and everyone passes, as in
the original."""
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission

from identity import participants
from identity.tokens import TokenRefused, refuse

WWW_AUTHENTICATE = 'Bearer realm="firstcome"'


class Participant:
    """The user a verified token names: not a Django user, no row behind it."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, user_id: str):
        self.user_id = user_id

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def __str__(self):
        return self.user_id


class ParticipantAuthentication(BaseAuthentication):
    """The configured header's token (identity.participants). No token there: not this class's
    request (a staff member's session or Basic is another's); a token that fails: 401, its reason."""

    def authenticate(self, request):
        if not participants.jwt_mode():
            return None
        offered = participants.token_in(request.META.get(participants.meta_key()))
        if offered is None:
            return None
        try:
            return Participant(participants.identify(offered)), offered
        except TokenRefused as exc:
            raise AuthenticationFailed(exc.detail, code=exc.code) from None

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE


def participant_of(request) -> str | None:
    """The user id the request's token proves; None in body mode or for staff."""
    user = getattr(request, "user", None)
    return user.user_id if isinstance(user, Participant) else None


def is_signed_in_staff(request) -> bool:
    """A Django account (session, Basic or API token), not a participant: what it may read is
    its permissions' business (campaigns.participants.reads_any_result)."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and not isinstance(user, Participant))


class IsParticipant(BasePermission):
    """A verified participant (jwt mode); anyone (body mode)."""

    def has_permission(self, request, view):
        if not participants.jwt_mode() or participant_of(request) is not None:
            return True
        exc = refuse("missing")  # counted with the other refusals
        raise NotAuthenticated(exc.detail, code=exc.code)


class IsParticipantOrStaff(IsParticipant):
    """Also a signed-in staff account (whose role then says whether it reads others' results)."""

    def has_permission(self, request, view):
        return is_signed_in_staff(request) or super().has_permission(request, view)


__all__ = ["IsParticipant", "IsParticipantOrStaff", "Participant", "ParticipantAuthentication",
           "is_signed_in_staff", "participant_of"]


class InvalidApiToken(APIException):
    """A 401 whatever authentication class comes first (DRF turns AuthenticationFailed into a 403
    when the first, the session's, names no scheme)."""

    status_code = 401
    default_detail = "unknown, revoked or malformed API token"
    default_code = "invalid_api_token"


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token fct_<prefix>_<secret>` (identity.api_tokens): a staff API client.
    Another scheme is another class's; a token that does not check out is a 401."""

    keyword = "token"

    def authenticate(self, request):
        scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != self.keyword:
            return None
        from identity.api_tokens import api_token_user  # the model: loaded once apps are ready

        user = api_token_user(presented=presented.strip())
        if user is None:
            raise InvalidApiToken()
        return user, None

    def authenticate_header(self, request):
        return 'Token realm="firstcome"'

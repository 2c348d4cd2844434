"""Participants on the DRF views: their token as DRF authentication, and the permissions that ask
for it. In body mode (FIRSTCOME_IDENTITY=body) no credential is read and everyone passes, as in
the original."""
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
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


def is_staff(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and getattr(user, "is_staff", False) and user.is_active)


class IsParticipant(BasePermission):
    """A verified participant (jwt mode); anyone (body mode)."""

    def has_permission(self, request, view):
        if not participants.jwt_mode() or participant_of(request) is not None:
            return True
        exc = refuse("missing")  # counted with the other refusals
        raise NotAuthenticated(exc.detail, code=exc.code)


class IsParticipantOrStaff(IsParticipant):
    """Also a signed-in staff member: staff read any participant's results."""

    def has_permission(self, request, view):
        return is_staff(request) or super().has_permission(request, view)


__all__ = ["IsParticipant", "IsParticipantOrStaff", "Participant", "ParticipantAuthentication",
           "is_staff", "participant_of"]

"""The staff API's permission checks: each endpoint names the Django permission it needs
(campaigns.roles), per method. A superuser has them all; is_staff alone has none."""
from rest_framework.permissions import BasePermission

SAFE_AS = {"HEAD": "GET", "OPTIONS": "GET"}


def requires(**perm_by_method: str) -> type[BasePermission]:
    """A DRF permission class: `requires(GET=VIEW_CAMPAIGNS, POST=ADD_CAMPAIGN)`."""

    class Requires(BasePermission):
        perms = perm_by_method

        def has_permission(self, request, view):
            user = request.user
            perm = perm_by_method.get(SAFE_AS.get(request.method, request.method))
            return bool(perm and user is not None and user.is_authenticated and user.has_perm(perm))

    Requires.__qualname__ = Requires.__name__ = "Requires(" + ", ".join(f"{m}={p}" for m, p in perm_by_method.items()) + ")"
    return Requires

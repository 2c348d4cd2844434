"""Who acts, and who may see what: the rules every participation path and result lookup applies,
on the event loop and in the DRF views alike.

- acting_user: the user a participation is for. jwt mode: the credential's user; a body user id
  may be sent (the original's clients send one) but must be that user, else 403. body mode: the
  body's user id, trusted as the original did.
- may_see: a decided result (user id, coupon code) is shown to its owner and to staff; to anyone
  else it is answered as an id or user that does not exist ("staff": a role that reads results,
  reads_any_result). In body mode everyone may, as today.
"""
from campaigns.errors import NotYourUserId
from campaigns.roles import READ_RESULTS
from identity.participants import jwt_mode


def acting_user(*, credential_user: str | None, body_user: str | None) -> str | None:
    """The user the request acts for; None: nobody (the body has no valid user id in body mode:
    the caller answers the body's 400)."""
    if not jwt_mode():
        return body_user
    if body_user is not None and body_user != credential_user:
        raise NotYourUserId("the body's user id is not the user your credential proves; send none, or your own")
    return credential_user


def reads_any_result(request) -> bool:
    """A staff member whose role reads participants' results (campaigns.roles)."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.has_perm(READ_RESULTS))


def may_see(*, owner: str | None, viewer: str | None, staff: bool = False) -> bool:
    """Whether `viewer` (the credential's user) may see a result that belongs to `owner`."""
    return staff or not jwt_mode() or (viewer is not None and owner == viewer)

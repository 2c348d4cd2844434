"""Acting as a participant in tests: tokens from the development issuer (identity.dev_issuer),
which the test settings' verifier and every child process of the test run accept (they share
var/dev-issuer).

ActingAs is what a real client does: it sends the token of the user a request is about (the
body's user id, the user in a user-decision path, or the user it was given a request id for), and
remembers whose each request id is. ParticipantClient (Django's test client) and
testsupport.web.call use it, so a test that names a user acts as that user with identity on; a
test that sets its own Authorization header sends exactly that."""
import json
import re
import uuid
from urllib.parse import unquote, urlsplit

from rest_framework.test import APIClient

from identity import participants

_PARTICIPATE = re.compile(r"/api/campaigns/[0-9]+/participations?|/lab/campaigns/[0-9]+/participations-sync")
_USER_DECISION = re.compile(r"/api/campaigns/[0-9]+/participations/(.+)")
_RESULT = re.compile(r"/api/participations/([^/]+)")
_ISSUED = re.compile(r"request_id[\"=: ]+\"?([0-9a-f-]{36})")


def token_for(user_id: str, **claims) -> str:
    return participants.mint(user_id, **claims)


def bearer(user_id: str, **claims) -> dict:
    """Headers of a request from `user_id` (urllib, http.client, k6)."""
    return {"Authorization": f"Bearer {token_for(user_id, **claims)}"}


def as_user(user_id: str, **claims) -> dict:
    """Django test client keyword arguments of a request from `user_id`."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token_for(user_id, **claims)}"}


def body_user(body) -> str | None:
    """The user a participation body names (user_id, or the original's userId), if it is one."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    if not isinstance(body, dict):
        return None
    user = body.get("user_id", body.get("userId"))
    if isinstance(user, int) and not isinstance(user, bool):
        user = str(user)
    return user if isinstance(user, str) and 0 < len(user) <= 64 and user.isprintable() else None


# Who a participant request is from when it names no valid user (a test of a bad body).
def someone() -> str:
    return f"someone-{uuid.uuid4().hex[:8]}"


class ActingAs:
    def __init__(self):
        self.owners: dict[str, str] = {}  # request id -> the user it was issued to

    def user_for(self, path: str, body=None) -> str | None:
        """The participant a request to `path` comes from; None: not a participant's endpoint."""
        path = urlsplit(path).path
        if _PARTICIPATE.fullmatch(path):
            return body_user(body) or someone()
        if match := _USER_DECISION.fullmatch(path):
            return unquote(match[1])
        if match := _RESULT.fullmatch(path):
            return self.owners.get(match[1]) or someone()
        return None

    def saw(self, path: str, body, status: int, answer) -> None:
        """Remember whose request id an accepted participation was given."""
        user = body_user(body) if _PARTICIPATE.fullmatch(urlsplit(path).path) else None
        if user is None or status not in (200, 202):
            return
        text = answer.decode(errors="replace") if isinstance(answer, bytes) else json.dumps(answer)
        if match := _ISSUED.search(text):
            self.owners[match[1]] = user


# One for the test process: a request id published by one helper (testsupport.publishing) or
# client is looked up as its owner by any other.
ACTING = ActingAs()


class ParticipantClient(APIClient):
    """APIClient acting as the participant each request names (ActingAs), unless the request or
    credentials() already carry an Authorization header."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acting = ACTING

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=False, **extra):
        if "HTTP_AUTHORIZATION" not in extra and "HTTP_AUTHORIZATION" not in self._credentials:
            user = self.acting.user_for(path, data)
            if user is not None:
                extra = {**extra, **as_user(user)}
        response = super().generic(method, path, data, content_type, secure=secure, **extra)
        if method == "POST" and not getattr(response, "streaming", False):
            self.acting.saw(path, data, response.status_code, response.content)
        return response

"""The participation endpoint's fast path: POST /api/campaigns/<id>/participations answered on
the event loop of an ASGI worker, in front of the Django application (campaign_site/asgi.py);
and the result GETs that follow it, answered from the decision cache (campaigns/answers.py)
under the same gate (host, HTTPS redirect, headers sent twice) and the same response headers.

Why: under a burst, this one endpoint is nearly all the traffic, and through Django a request
cost ~1.6 ms of CPU on a thread of its own waiting for the broker's ack (middleware, DRF, the
GIL handed between 24 threads, kafka-python's blocking future): ~900 accepted/s on two cores.
Here a request costs the HTTP parsing (C), one JSON parse, the shared user-id field, the shared
service and a send whose acknowledgement wakes the loop; nothing waits on a thread.

It answers only what it can answer exactly as Django would: the request Django would accept
(202, once the broker has acknowledged it) and the broker being down (503, the same error body).
Everything else goes to the Django application unchanged, its body replayed: another path or
method, a body that is not a JSON object with a valid user_id or that may nest deeper than the
parser's limit, an unknown or closed campaign or an id no campaign can have, a throttled user, a
host Django would refuse, a plain-HTTP request that production redirects, a body without
Content-Length or over the size limit, a header sent twice (Django reads the values joined). So DRF's view (ParticipationCreateView,
also what runserver and Django's test client reach) stays the one definition of every error;
campaigns/tests/test_ingest.py checks that both answer alike.

It is an adapter written against one configuration, WRITTEN_AGAINST below: the middleware a
request crosses, the settings that make Django refuse or redirect it before any view, and the
DRF classes of the view. If any of them changes, building the adapter (campaign_site/asgi.py, at
the server's start) raises ImproperlyConfigured naming what changed: a middleware added tomorrow
must be mirrored here (or leave its requests to Django) before the fast path serves again.
"""
import asyncio
import functools
import logging
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from django.urls import resolve
from django.utils import timezone
from prometheus_client import Counter, Histogram
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from campaign_site.parsers import may_be_too_deep
from campaigns import selectors, services
from campaigns.answers import (RESULT_PATH, USER_DECISION_PATH, ResultAnswers, count_result_handed_to_django)
from campaigns.errors import BrokerUnavailable, CampaignSoldOut, DatabaseUnavailable, DomainError
from campaigns.participants import acting_user
from campaigns.refusals import sold_out_refusals
from campaigns.serializers import USER_ID_FIELD
from campaigns.throttles import ParticipationUserThrottle
from identity import participants
from identity.drf import WWW_AUTHENTICATE
from identity.tokens import KeysNeeded, TokenRefused

log = logging.getLogger(__name__)

# Django's <int:campaign_id> converter is [0-9]+.
PARTICIPATION_PATH = re.compile(r"/api/campaigns/([0-9]+)/participations")
# A campaign id is a BIGINT: a longer one is no campaign (or has leading zeros), which Django
# answers; int() of over 4,300 digits would raise.
MAX_ID_DIGITS = len(str(2**63 - 1))
JSON_TYPES = {b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8"}

# How the fast path accounts for each middleware, in order, as it was when this module was written
# and tested: the running MIDDLEWARE must be exactly these keys. CommonMiddleware refuses nothing
# while the two settings after it stay off.
MIDDLEWARE_ACCOUNTED_FOR = {
    "django_prometheus.middleware.PrometheusBeforeMiddleware": "counts Django's requests; the fast path counts its own",
    "campaign_site.middleware.HealthCheckMiddleware": "inert: answers only the health paths",
    "campaign_site.authentication.MetricsMiddleware": "inert: answers only /metrics",
    "campaign_site.request_limits.RequestSizeLimitMiddleware": "gated: a body over the limit goes to Django unread",
    "django.middleware.security.SecurityMiddleware": "mirrored: HTTPS redirect and response headers",
    "whitenoise.middleware.WhiteNoiseMiddleware": "inert: answers only static files",
    "django.contrib.sessions.middleware.SessionMiddleware": "inert: the view reads no session",
    "django.middleware.common.CommonMiddleware": "inert while PREPEND_WWW and DISALLOWED_USER_AGENTS are off",
    "django.middleware.csrf.CsrfViewMiddleware": "inert: APIView is exempt",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "inert: the view authenticates nobody",
    "django.contrib.messages.middleware.MessageMiddleware": "inert: the view sends no message",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "mirrored: X-Frame-Options",
    "django_prometheus.middleware.PrometheusAfterMiddleware": "counts Django's answers; the fast path counts its own",
}
# Host validation is Django's own (request.get_host), mirrored too.
WRITTEN_AGAINST = {
    "settings.MIDDLEWARE": tuple(MIDDLEWARE_ACCOUNTED_FOR),
    "settings.PREPEND_WWW": False,
    "settings.DISALLOWED_USER_AGENTS": (),
    "REST_FRAMEWORK.DEFAULT_PARSER_CLASSES": ("campaign_site.parsers.JSONParser",),
    "REST_FRAMEWORK.DEFAULT_RENDERER_CLASSES": ("rest_framework.renderers.JSONRenderer",),
    "REST_FRAMEWORK.EXCEPTION_HANDLER": "campaign_site.exceptions.exception_handler",
    "REST_FRAMEWORK.COMPACT_JSON": True,
    "view": "campaigns.views.ParticipationCreateView",
    "view.parser_classes": ("campaign_site.parsers.JSONParser",),
    "view.renderer_classes": ("rest_framework.renderers.JSONRenderer",),
    "view.content_negotiation_class": "campaigns.views.JSONOnlyNegotiation",
    "view.authentication_classes": ("identity.drf.ParticipantAuthentication",),
    "view.permission_classes": ("identity.drf.IsParticipant",),
    # Its rate (FIRSTCOME_PARTICIPATION_RATE) and count are shared: both paths call allow().
    "view.throttle_classes": ("campaigns.throttles.ParticipationUserThrottle",),
    # The result GETs (campaigns.answers): a participant's token (anything else, a staff member's
    # session or Basic included, is the view's), no throttle or parser to mirror, DRF's default
    # negotiation (the fast path answers only an Accept it would pick JSON for).
    **{f"{name}{part}": value for name in ("result_view", "user_decision_view") for part, value in (
        (".renderer_classes", ("rest_framework.renderers.JSONRenderer",)),
        (".content_negotiation_class", "rest_framework.negotiation.DefaultContentNegotiation"),
        (".authentication_classes", ("identity.drf.ParticipantAuthentication",
                                     "rest_framework.authentication.SessionAuthentication",
                                     "rest_framework.authentication.BasicAuthentication",
                                     "identity.drf.ApiTokenAuthentication")),
        (".permission_classes", ("identity.drf.IsParticipantOrStaff",)),
        (".throttle_classes", ()),
    )},
    "result_view": "campaigns.views.ParticipationResultView",
    "user_decision_view": "campaigns.views.UserDecisionView",
}


def mirrored_configuration() -> dict:
    """The running configuration, under WRITTEN_AGAINST's names."""
    view = resolve("/api/campaigns/1/participations").func.view_class
    result_views = {"result_view": resolve("/api/participations/x").func.view_class,
                    "user_decision_view": resolve("/api/campaigns/1/participations/x").func.view_class}
    return {
        **{name: dotted_name(v) for name, v in result_views.items()},
        **{f"{name}.{part}": dotted_names(getattr(v, part)) for name, v in result_views.items()
           for part in ("renderer_classes", "authentication_classes", "permission_classes", "throttle_classes")},
        **{f"{name}.content_negotiation_class": dotted_name(v.content_negotiation_class) for name, v in result_views.items()},
        "settings.MIDDLEWARE": tuple(settings.MIDDLEWARE),
        "settings.PREPEND_WWW": settings.PREPEND_WWW,
        "settings.DISALLOWED_USER_AGENTS": tuple(settings.DISALLOWED_USER_AGENTS),
        "REST_FRAMEWORK.DEFAULT_PARSER_CLASSES": dotted_names(api_settings.DEFAULT_PARSER_CLASSES),
        "REST_FRAMEWORK.DEFAULT_RENDERER_CLASSES": dotted_names(api_settings.DEFAULT_RENDERER_CLASSES),
        "REST_FRAMEWORK.EXCEPTION_HANDLER": dotted_name(api_settings.EXCEPTION_HANDLER),
        "REST_FRAMEWORK.COMPACT_JSON": api_settings.COMPACT_JSON,
        **view_configuration(view),
    }


def check_mirrored_configuration() -> None:
    """ImproperlyConfigured naming each difference between the running configuration and the
    one this adapter mirrors."""
    check_against(WRITTEN_AGAINST, mirrored_configuration(),
                  "the participation fast path (campaigns/ingest.py) mirrors a configuration that has changed; "
                  "bring it and WRITTEN_AGAINST up to date (campaigns/tests/test_ingest.py checks the parity)")


def check_against(written_against: dict, running: dict, what: str) -> None:
    """ImproperlyConfigured saying `what` and naming each value that differs."""
    changed = [f"{name}: written against {expected!r}, running {running[name]!r}"
               for name, expected in written_against.items() if running[name] != expected]
    if changed:
        raise ImproperlyConfigured(what + ":\n  " + "\n  ".join(changed))


def view_configuration(view) -> dict:
    """What a fast path mirrors of a participation view, under "view.*" names."""
    return {
        "view": dotted_name(view),
        "view.parser_classes": dotted_names(view.parser_classes),
        "view.renderer_classes": dotted_names(view.renderer_classes),
        "view.content_negotiation_class": dotted_name(view.content_negotiation_class),
        "view.authentication_classes": dotted_names(view.authentication_classes),
        "view.permission_classes": dotted_names(view.permission_classes),
        "view.throttle_classes": dotted_names(view.throttle_classes),
    }


def dotted_name(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def dotted_names(classes) -> tuple:
    return tuple(map(dotted_name, classes))


ANSWERS = Counter("firstcome_ingest_requests_total",
                  "Participation POSTs by who answered: accepted / broker_unavailable / "
                  "database_unavailable / sold_out / unauthenticated by the fast path, django for those it "
                  "handed to the Django application.", ["answer"])
ACCEPT_SECONDS = Histogram("firstcome_ingest_accept_seconds",
                           "From the request's body read to the broker's acknowledgement (202).",
                           buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
_answered_by = {name: ANSWERS.labels(name)
                for name in ("accepted", "broker_unavailable", "database_unavailable", "sold_out", "unauthenticated",
                             "django")}
UNAUTHENTICATED_HEADERS = [(b"www-authenticate", WWW_AUTHENTICATE.encode())]
POST_ALLOW, GET_ALLOW = "POST, OPTIONS", "GET, HEAD, OPTIONS"  # DRF's Allow on each view's answers
# Accept headers for which DRF's negotiation picks the JSON renderer with no media parameters.
JSON_ACCEPTS = {None, b"*/*", b"application/json", b"application/*"}


class Route(NamedTuple):
    """A participation POST answered here. `path`: group 1 is the campaign id; `user_id`: the
    parsed JSON body to the body's user id (None: absent where the credential says who), raising
    KeyError, TypeError or ValidationError where the view refuses the body (Django answers);
    `accepted`: the request id to the answer's (status, body); `refused`: a DomainError (or a
    refused credential) to its body. PARTICIPATIONS is the native endpoint; another contract over
    the same submission passes its own (campaigns.compat.ingest)."""
    path: re.Pattern
    user_id: Callable[[Any], str | None]
    accepted: Callable[[Any], tuple[int, bytes]]
    refused: Callable[[DomainError | TokenRefused], bytes]


def body_user(data, key: str, field) -> str | None:
    """The body's user id under `key`, as campaigns.views.user_id_from reads it: absent is None
    in jwt mode, a KeyError (the view's 400) in body mode."""
    if not isinstance(data, dict):
        raise TypeError
    if key not in data and participants.jwt_mode():
        return None
    return field.run_validation(data[key])


PARTICIPATIONS = Route(
    PARTICIPATION_PATH, lambda data: body_user(data, "user_id", USER_ID_FIELD),
    lambda request_id: (202, b'{"request_id":"%s","status":"PENDING"}' % str(request_id).encode()),
    lambda exc: orjson.dumps(exc.body()))


class ParticipationIngest:
    """ASGI application: the fast path for participation requests and their results
    (campaigns.answers), `django` for the rest."""

    def __init__(self, django, *, results: ResultAnswers | None = None, routes: tuple["Route", ...] = ()):
        check_mirrored_configuration()
        self.django = django
        self.routes = (PARTICIPATIONS, *routes)  # another contract's participation POSTs (Route)
        self.results = results  # None: the result GETs all go to Django
        self._response_headers = {}  # (is the request secure, Allow) -> headers for a fast-path answer
        # One for the loop, not one per request: its check runs start to end without yielding.
        self._throttle = ParticipationUserThrottle()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            if self.results is not None:
                self.results.start()  # its feed warms the cache before the first result is asked
            if scope["method"] == "POST":
                for route in self.routes:
                    match = route.path.fullmatch(scope["path"])
                    if match is not None:
                        return await self._participate(route, match, scope, receive, send)
            elif scope["method"] in ("GET", "HEAD") and self.results is not None:
                return await self._result(scope, receive, send)
        return await self.django(scope, receive, send)

    async def _result(self, scope, receive, send):
        """A result GET: answered by campaigns.answers when the request is one the DRF view
        would answer with its JSON (no Accept or format to negotiate, the host allowed, no
        HTTPS redirect, no header sent twice); anything else (HEAD included) is Django's, counted
        as handed to it."""
        path = scope["path"]
        by_id = RESULT_PATH.fullmatch(path)
        by_user = None if by_id else USER_DECISION_PATH.fullmatch(path)
        if by_id is None and (by_user is None or len(by_user[1]) > MAX_ID_DIGITS or scope["query_string"]):
            return await self.django(scope, receive, send)
        headers = dict(scope["headers"])
        secure = _is_secure(scope, headers)
        if (scope["method"] != "GET" or _django_reads_headers_otherwise(scope, headers)
                or headers.get(b"accept") not in JSON_ACCEPTS or not _host_allowed(headers)
                or (settings.SECURE_SSL_REDIRECT and not secure)):
            return await self._to_django(scope, receive, send, "result")

        async def respond(status, body, extra_headers=()):
            await self._answer(send, secure, status, body, extra_headers, allow=GET_ALLOW)

        viewer = None
        if participants.jwt_mode():  # a token is verified here; anything else (staff) is the view's
            offered = _offered_token(headers)
            if offered is None:
                return await self._to_django(scope, receive, send, "result")
            try:
                viewer = await self._participant(offered)
            except TokenRefused as exc:
                return await respond(exc.http_status, orjson.dumps(exc.body()), UNAUTHENTICATED_HEADERS)

        async def to_django(query_string):
            """The DRF view answers; with the query string replaced when not None."""
            handed = scope if query_string is None else {**scope, "query_string": query_string}
            await self._to_django(handed, receive, send, "result")

        if by_id is not None:
            return await self.results.result(request_id=by_id[1], query=scope["query_string"], viewer=viewer,
                                             respond=respond, to_django=to_django)
        await self.results.user_decision(campaign_id=int(by_user[1]), user_id=by_user[2], viewer=viewer,
                                         respond=respond, to_django=to_django)

    async def _participate(self, route, match, scope, receive, send):
        headers = dict(scope["headers"])
        if _django_reads_headers_otherwise(scope, headers) or len(match[1]) > MAX_ID_DIGITS:
            return await self._to_django(scope, receive, send)
        secure = _is_secure(scope, headers)
        body = await self._body_if_ours(headers, secure, receive)
        if body is None:
            return await self._to_django(scope, receive, send)
        try:
            credential_user = await self._participant(_offered_token(headers))
        except TokenRefused as exc:
            _answered_by["unauthenticated"].inc()
            return await self._answer(send, secure, exc.http_status, route.refused(exc), UNAUTHENTICATED_HEADERS)
        campaign_id = int(match[1])
        submission = await self._submission(route, campaign_id, body, credential_user)
        if submission is None:
            return await self._to_django(scope, _replay(body, receive), send)
        if isinstance(submission, (CampaignSoldOut, DatabaseUnavailable)):  # refused at the door, nothing published
            _answered_by[submission.code].inc()
            if isinstance(submission, CampaignSoldOut):
                sold_out_refusals.record(campaign_id)
            return await self._answer(send, secure, submission.http_status, route.refused(submission),
                                      _header_pairs(submission))
        started = time.perf_counter()
        try:
            request_id = await services.participation_publish_async(submission)
        except BrokerUnavailable as exc:
            _answered_by["broker_unavailable"].inc()
            return await self._answer(send, secure, exc.http_status, route.refused(exc), _header_pairs(exc))
        ACCEPT_SECONDS.observe(time.perf_counter() - started)
        _answered_by["accepted"].inc()
        await self._answer(send, secure, *route.accepted(request_id))

    async def _body_if_ours(self, headers, secure, receive):
        """The body, if the request is one Django would take as far as the view; None (nothing
        read) if Django must see it: its middleware refuses the host, redirects to HTTPS,
        refuses the size, or DRF answers 415."""
        if headers.get(b"content-type", b"").lower() not in JSON_TYPES or not _host_allowed(headers):
            return None
        if settings.SECURE_SSL_REDIRECT and not secure:
            return None
        try:
            length = int(headers[b"content-length"])
        except (KeyError, ValueError):
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length < 0 or (limit is not None and length > limit):
            return None
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: Django answers nobody
                return b""
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _participant(self, offered: str | None) -> str | None:
        """The user the request's token (`offered`, _offered_token) proves in jwt mode, None in
        body mode; TokenRefused (401) otherwise, as identity.drf answers. A token whose key is
        not known yet is checked on a thread: reading the key source blocks."""
        if not participants.jwt_mode():
            return None
        if offered is None:
            return participants.identify(None)
        verifier = participants.verifier()
        try:
            return verifier.verify(offered, may_fetch=False)
        except KeysNeeded:
            return await asyncio.get_running_loop().run_in_executor(None, verifier.verify, offered)

    async def _submission(self, route, campaign_id, body, credential_user):
        """The request ready to publish, or None if Django's view would not accept it: it then
        answers it (and counts it against the user's rate) itself."""
        if may_be_too_deep(body):  # the parser's nesting limit decides; orjson's is another
            return None
        try:
            data = orjson.loads(body)
            user_id = acting_user(credential_user=credential_user, body_user=route.user_id(data))
            window = await selectors.campaign_window_async(campaign_id)
            submission = services.participation_prepare(window, user_id, timezone.now())
        except (CampaignSoldOut, DatabaseUnavailable) as exc:  # answered here, nothing published
            submission = exc
        except (orjson.JSONDecodeError, TypeError, KeyError, ValidationError, DomainError):
            return None
        except DatabaseError:  # the campaign could not be read: Django answers as it would
            log.warning("campaign %s could not be read on the fast path", campaign_id, exc_info=True)
            return None
        # Last, as in the view (the throttle runs first there, but counts a refused request too):
        # one count per request whichever path answers it.
        return submission if self._throttle.allow(user_id) else None

    async def _to_django(self, scope, receive, send, kind="participation"):
        if kind == "participation":
            _answered_by["django"].inc()
        else:
            count_result_handed_to_django()
        await self.django(scope, receive, send)

    async def _answer(self, send, secure, status, body, extra_headers=(), *, allow=POST_ALLOW):
        headers = self._response_headers.get((secure, allow))
        if headers is None:
            headers = self._response_headers[secure, allow] = _django_response_headers(secure, allow)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, *extra_headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _header_pairs(exc: DomainError) -> list:
    return [(name.lower().encode(), value.encode()) for name, value in exc.headers().items()]


def _offered_token(headers) -> str | None:
    """The participant's token in the configured header, as identity.participants reads it."""
    value = headers.get(participants.header_name().encode("latin-1"))
    return participants.token_in(None if value is None else value.decode("latin-1"))


def _replay(body, receive):
    """A receive() that gives Django the body already read, then the connection's own events."""
    sent = False

    async def replayed():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _host_allowed(headers):
    """Django's host validation (HttpRequest.get_host), for the plain Host header; a request
    with X-Forwarded-Host where Django reads it is left to Django."""
    host = headers.get(b"host")
    if host is None or (settings.USE_X_FORWARDED_HOST and b"x-forwarded-host" in headers):
        return False
    return _valid_host(host)


@functools.lru_cache(maxsize=256)  # a server sees a handful of Host values; the check is regexes
def _valid_host(host: bytes):
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host.decode("latin-1"))
    return bool(domain) and validate_host(domain, allowed)


def _django_reads_headers_otherwise(scope, headers: dict) -> bool:
    """A header sent twice, or a header name with '_': Django does not read them as the fast path
    would (a2wsgi joins repeated values with commas, and gives "X-Forwarded_Proto" the same
    HTTP_X_FORWARDED_PROTO key as "X-Forwarded-Proto"), so the request is Django's to answer."""
    return len(headers) != len(scope["headers"]) or b"_" in b"".join(headers)


def _is_secure(scope, headers):
    """HttpRequest.is_secure(): the trusted proxy's header where settings name one, else the
    connection's scheme."""
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        name = proxy_header[0].removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = headers.get(name)
        if value is not None:
            return value.decode("latin-1").split(",", 1)[0].strip() == proxy_header[1]
    return scope["scheme"] == "https"


def _django_response_headers(secure, allow):
    """The headers the Django application puts on the view's JSON answer, taken from Django's
    own middleware (security headers, X-Frame-Options) and DRF's APIView (Allow)."""
    from django.http import HttpRequest, HttpResponse
    from django.middleware.clickjacking import XFrameOptionsMiddleware
    from django.middleware.security import SecurityMiddleware

    request = HttpRequest()
    request.is_secure = lambda: secure
    response = HttpResponse(content_type="application/json")
    response["Allow"] = allow
    for middleware in (SecurityMiddleware, XFrameOptionsMiddleware):
        response = middleware(lambda r: response).process_response(request, response)
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]

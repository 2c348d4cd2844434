"""The fast path (campaigns/ingest.py) is an adapter over one configuration: the served
application is not built when what it mirrors has changed. What it answers is compared with the
DRF view in test_ingest.py."""
import asyncio
import re
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import Resolver404, resolve
from hypothesis import assume, given
from hypothesis import strategies as st

from campaign_site.asgi import build_application
from campaigns import answers, ingest
from testsupport.identity import token_for
from campaigns.compat.views import ParticipationView as OriginalParticipationView
from campaigns.views import ParticipationCreateView, ParticipationResultView, UserDecisionView

MIRRORED_MIDDLEWARE = list(ingest.WRITTEN_AGAINST["settings.MIDDLEWARE"])


def test_the_application_builds_with_the_configuration_it_mirrors():
    assert ingest.mirrored_configuration() == ingest.WRITTEN_AGAINST
    assert build_application() is not None


def test_an_added_middleware_stops_the_application_from_building(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    with pytest.raises(ImproperlyConfigured, match=r"settings\.MIDDLEWARE.*GZipMiddleware"):
        build_application()


@given(st.permutations(MIRRORED_MIDDLEWARE) | st.lists(st.sampled_from(MIRRORED_MIDDLEWARE), unique=True))
def test_any_other_middleware_list_is_refused(middleware):
    """Removed, reordered: any list but the one mirrored."""
    with override_settings(MIDDLEWARE=middleware):
        if middleware == MIRRORED_MIDDLEWARE:
            build_application()
        else:
            with pytest.raises(ImproperlyConfigured, match=r"settings\.MIDDLEWARE"):
                build_application()


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("PREPEND_WWW", True, "settings.PREPEND_WWW"),
    ("DISALLOWED_USER_AGENTS", [r"curl"], "settings.DISALLOWED_USER_AGENTS"),
])
def test_a_setting_that_makes_django_refuse_first_is_refused(settings, setting, value, named):
    setattr(settings, setting, value)
    with pytest.raises(ImproperlyConfigured, match=named):
        build_application()


@pytest.mark.parametrize(("key", "value"), [
    ("DEFAULT_PARSER_CLASSES", ["rest_framework.parsers.JSONParser"]),
    ("DEFAULT_RENDERER_CLASSES", ["rest_framework.renderers.BrowsableAPIRenderer"]),
    ("EXCEPTION_HANDLER", "rest_framework.views.exception_handler"),
    ("COMPACT_JSON", False),
])
def test_a_changed_drf_setting_is_refused(settings, key, value):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, key: value}
    with pytest.raises(ImproperlyConfigured, match=f"REST_FRAMEWORK.{key}"):
        build_application()


@pytest.mark.parametrize(("view", "named"), [
    (ParticipationCreateView, r"participation fast path .*\n  view\.throttle_classes"),
    (ParticipationResultView, r"\n  result_view\.throttle_classes"),
    (UserDecisionView, r"\n  user_decision_view\.throttle_classes"),
    (OriginalParticipationView, r"original contract's fast path .*\n  view\.throttle_classes"),
])
def test_a_throttle_added_to_a_view_the_fast_path_answers_for_is_refused(monkeypatch, view, named):
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(view, "throttle_classes", [*view.throttle_classes, AnonRateThrottle])
    with pytest.raises(ImproperlyConfigured, match=re.compile(named)):
        build_application()


def _spellings(name: bytes):
    """The name with any of its hyphens written as underscores: one HTTP_* key to Django (a2wsgi)."""
    parts = name.split(b"-")
    return st.lists(st.sampled_from([b"-", b"_"]), min_size=len(parts) - 1, max_size=len(parts) - 1).map(
        lambda joints: parts[0] + b"".join(joint + part for joint, part in zip(joints, parts[1:])))


@given(data=st.data(), name=st.sampled_from([b"x-forwarded-proto", b"x-forwarded-host", b"content-type", b"host",
                                             b"accept", b"x-note"]),
       twice=st.booleans(),
       path=st.sampled_from(["/api/campaigns/1/participations", f"/api/participations/{uuid.UUID(int=7)}"]))
def test_a_header_sent_twice_or_named_with_an_underscore_is_djangos(data, name, twice, path):
    """Found by review: X-Forwarded_Proto: http beside the load balancer's X-Forwarded-Proto:
    https is one header to Django (a2wsgi joins them: "http,https", not secure); the fast path
    read the second one and answered as if secure. A header sent twice, or any header name with
    an underscore, is read by Django otherwise than by the fast path: the request is Django's, on
    both the participation and the result path. A control without either is the fast path's."""
    spelled = data.draw(_spellings(name))
    base = {b"host": b"localhost", b"content-type": b"application/json", b"content-length": b"16",
            b"accept": b"application/json", b"x-forwarded-proto": b"https", b"x-forwarded-host": b"localhost",
            b"x-note": b"a", b"authorization": b"Bearer " + token_for("u").encode()}
    if twice:  # the name as is, and again as spelled (the same, or with underscores)
        headers = [*base.items(), (spelled, b"b")]
    else:  # the name only as spelled
        headers = [(spelled if header == name else header, value) for header, value in base.items()]
    djangos = twice or b"_" in spelled
    assume(djangos or path.startswith("/api/participations/"))  # a control POST would reach the database
    handed, answered = _serve(path, headers)
    if djangos:
        assert handed == [path] and not answered
    else:  # the control: answered on the fast path
        assert answered == [path] and not handed


def _serve(path, headers):
    """(paths handed to Django, paths the result answers took) for one request to the fast path."""
    handed, answered = [], []

    async def django(scope, receive, send):
        handed.append(scope["path"])

    class Results:
        def start(self):
            pass

        async def result(self, **kwargs):
            answered.append(path)

    scope = {"type": "http", "method": "POST" if path.endswith("participations") else "GET", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("10.0.0.1", 1234), "http_version": "1.1",
             "headers": headers}

    async def receive():
        return {"type": "http.request", "body": b'{"user_id": "u"}', "more_body": False}

    async def send(message):
        raise AssertionError(f"answered on the fast path: {message}")

    asyncio.run(ingest.ParticipationIngest(django, results=Results())(scope, receive, send))
    return handed, answered


@given(user_id=st.text(min_size=1, max_size=20), campaign_id=st.integers(0, 10 ** 20).map(str) | st.text(max_size=4))
def test_the_user_decision_path_is_matched_exactly_where_django_resolves_it(user_id, campaign_id):
    """Found by review: the fast path's pattern matched a user id with a newline, Django's route
    does not, so a cached decision and the view answered such a path differently."""
    path = f"/api/campaigns/{campaign_id}/participations/{user_id}"
    try:
        django_match = resolve(path)
        django_resolves = django_match.func.view_class is UserDecisionView
    except Resolver404:
        django_resolves = False
    assert (answers.USER_DECISION_PATH.fullmatch(path) is not None) == django_resolves

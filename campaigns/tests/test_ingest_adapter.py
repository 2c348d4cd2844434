"""The fast path (campaigns/ingest.py) is an adapter over one configuration: the served
application is not built when what it mirrors has changed. What it answers is compared with the
DRF view in test_ingest.py."""
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from campaign_site.asgi import build_application
from campaigns import ingest
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

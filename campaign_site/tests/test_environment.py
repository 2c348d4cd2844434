"""campaign_site/environment.py: every variable is read typed, and a malformed value stops start-up
with a message naming the variable instead of turning into a default or a later crash."""
import re
import runpy
import subprocess
import sys
from pathlib import Path
from zoneinfo import available_timezones

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaign_site.environment import (
    FALSE,
    LOG_LEVELS,
    TRUE,
    Environment,
    InvalidEnvironment,
)
from campaign_site.logging_config import JSON_FORMATTER, django_logging
from testsupport.production import example_env, manage

BASE_DIR = Path(settings.BASE_DIR)
NAME = "FIRSTCOME_SOME_VALUE"
ZONES = available_timezones()

# Text with no blank-only values (those mean "unset": the default).
values = st.text(min_size=1, max_size=40).filter(lambda value: value.strip())
not_integers = values.filter(lambda value: not re.fullmatch(r"[+-]?[0-9]+", value.strip()))
not_booleans = values.filter(lambda value: value.strip().lower() not in TRUE | FALSE)
not_urls = values.filter(lambda value: not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value.strip()))
not_levels = values.filter(lambda value: value.strip().upper() not in LOG_LEVELS)
not_zones = values.filter(lambda value: value.strip() not in ZONES)
not_rates = values.filter(lambda value: value.strip() != "off"
                          and not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", value.strip()))


def read(reader, value, *args, **kwargs):
    return getattr(Environment({NAME: value}), reader)(NAME, *args, **kwargs)


def refused(reader, value, *args, **kwargs):
    with pytest.raises(InvalidEnvironment) as error:
        read(reader, value, *args, **kwargs)
    assert str(error.value).startswith(f"{NAME}={value!r}: use "), str(error.value)
    assert error.value.name == NAME


@given(not_integers)
def test_a_malformed_integer_is_refused_naming_the_variable(value):
    refused("int", value, 1)


@given(st.integers(max_value=-1))
def test_an_integer_under_the_minimum_is_refused_naming_the_variable(number):
    refused("int", str(number), 1, minimum=0)


@given(st.integers(min_value=0), st.sampled_from(["", " ", "\t"]))
def test_a_well_formed_integer_is_read_as_written(number, blank):
    assert read("int", f"{blank}{number}{blank}", 1, minimum=0) == number


@given(values.filter(lambda value: not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?",
                                                    value.strip())))
def test_a_malformed_number_is_refused_naming_the_variable(value):
    refused("float", value, 1.0)


@pytest.mark.parametrize("value", ["1e999", "-1e999", "-0.5"])
def test_an_infinite_or_negative_number_is_refused_naming_the_variable(value):
    refused("float", value, 1.0, minimum=0)


@given(st.floats(min_value=0, allow_infinity=False, allow_nan=False))
def test_a_well_formed_number_is_read_as_written(number):
    assert read("float", repr(number), 1.0, minimum=0) == number


@given(not_booleans)
def test_a_malformed_boolean_is_refused_naming_the_variable(value):
    refused("bool", value, False)


@given(st.sampled_from(sorted(TRUE | FALSE)), st.data())
def test_every_spelling_of_a_boolean_is_read_in_any_case(word, data):
    spelled = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in word)
    assert read("bool", spelled, None) is (word in TRUE)


@given(not_urls)
def test_a_malformed_url_is_refused_naming_the_variable(value):
    refused("url", value)


@pytest.mark.parametrize("value", ["mysql://db:port/x", "nosuch://host/db"])
def test_a_url_with_a_bad_port_or_an_unknown_scheme_is_refused(value):
    refused("url", value, schemes=("mysql", "sqlite"))


@given(not_levels)
def test_a_malformed_log_level_is_refused_naming_the_variable(value):
    refused("log_level", value, "INFO")


@given(not_zones)
def test_a_malformed_time_zone_is_refused_naming_the_variable(value):
    refused("time_zone", value, "UTC")


@given(not_rates)
def test_a_malformed_rate_is_refused_naming_the_variable(value):
    refused("rate", value, "10/5m")


@given(values.filter(lambda value: value not in ("campaign", "user")))
def test_a_value_outside_the_choices_is_refused_naming_the_variable(value):
    refused("str", value, "campaign", choices=("campaign", "user"))


@pytest.mark.parametrize("reader, default", [("int", 7), ("float", 1.5), ("bool", True), ("url", None),
                                             ("log_level", "INFO"), ("time_zone", "UTC")])
@pytest.mark.parametrize("environ", [{}, {NAME: ""}, {NAME: "  "}])
def test_unset_or_empty_is_the_default(reader, default, environ):
    assert getattr(Environment(environ), reader)(NAME, default) == default


def test_a_list_drops_blanks_and_a_rate_reads_its_period():
    assert Environment({NAME: " a, ,b ,"}).list(NAME) == ["a", "b"]
    assert Environment({NAME: "10/5m"}).rate(NAME, "off") == (10, 300)
    assert Environment({NAME: "off"}).rate(NAME, "10/5m") is None


def test_production_settings_stop_with_the_variable_named():
    run = manage("check", env={**example_env(), "KAFKA_PUBLISH_TIMEOUT_MS": "1.5s"})
    assert run.returncode != 0
    assert "KAFKA_PUBLISH_TIMEOUT_MS='1.5s': use a whole number of at least 1" in run.stderr, run.stderr


def test_gunicorn_stops_with_the_variable_named():
    run = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--check-config"],
                         check=False, cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "GUNICORN_WORKERS": "two"})
    assert run.returncode != 0
    assert "GUNICORN_WORKERS='two': use a whole number of at least 1" in run.stderr, run.stderr


def test_gunicorn_and_django_write_the_same_json_lines(monkeypatch):
    monkeypatch.setenv("GUNICORN_LOG_JSON", "true")
    gunicorn = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))["logconfig_dict"]
    django = django_logging(level="INFO", kafka_level="WARNING", json=True)
    assert gunicorn["formatters"] == django["formatters"] == {"json": JSON_FORMATTER}
    assert gunicorn["handlers"] == django["handlers"]


# A password as an operator might type one: any printable ASCII but space, "@" and "/" included.
TYPED = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=6, max_size=40).map(lambda t: "Pw9" + t)


@given(password=TYPED, user=st.sampled_from(["app", "", "firstcome"]),
       broken=st.sampled_from(["mysq1://{auth}@db:3306/x", "mysql://{auth}@db:port/x", "mysql://{auth}@db:99999999/x"]))
def test_a_malformed_url_never_shows_its_password(password, user, broken):
    """Found by review (issue 24): a malformed DATABASE_URL was echoed whole, password included,
    into journald and the deploy hooks' output."""
    url = broken.format(auth=f"{user}:{password}")
    try:
        Environment({"DATABASE_URL": url}).url("DATABASE_URL", schemes=("mysql",))
    except InvalidEnvironment as exc:
        assert password not in str(exc) and "DATABASE_URL" in str(exc), str(exc)
    else:
        assert not broken.startswith("mysq1"), url  # a refused scheme always raises


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "FIRSTCOME_METRICS_TOKEN", "DB_PASSWORD", "AN_API_KEY"])
def test_a_secret_variables_value_is_never_shown(name):
    with pytest.raises(InvalidEnvironment) as caught:
        Environment({name: "hunter2-is-my-secret"}).int(name, 1)
    assert "hunter2" not in str(caught.value) and name in str(caught.value)


def test_the_settings_refuse_a_malformed_database_url_without_showing_its_password():
    password = "-".join(["Pw9", "s3cr3t/with@signs"])  # (not written whole: the secret scan reads this file)
    run = subprocess.run([sys.executable, "-c", "import campaign_site.settings.production"], cwd=settings.BASE_DIR,
                         env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"mysql://app:{password}@db:port/firstcome"},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "DATABASE_URL" in run.stderr
    assert password not in run.stderr + run.stdout and "s3cr3t" not in run.stderr


HIDDEN_PARTS = st.text(st.characters(codec="utf-8", exclude_characters="\0\n\r", exclude_categories=("Cs",)),
                    min_size=6, max_size=30).filter(lambda p: p.strip() == p and len(set(p)) > 3)
MALFORMED = st.sampled_from([
    "mysql://app:{pw}@db:port/firstcome",  # a port that is not a number
    "mysql//app:{pw}@db:3306/firstcome",  # no scheme
    "mysqll://app:{pw}@db:3306/firstcome",  # an unknown scheme
    "mysql://app:{pw}@db:3306/firstcome?ssl=maybe",  # an option the settings refuse
    "mysql://app:{pw}@db:99999/firstcome",  # a port out of range
    "mysql://app:{pw}/firstcome",  # the @host forgotten: the password reads as a port
])


@hypothesis_settings(max_examples=200, deadline=None)
@given(password=HIDDEN_PARTS, template=MALFORMED)
def test_no_malformed_database_url_shows_its_password(password, template):
    """Whatever the password holds (spaces, @, /, quotes, any script) and however the URL is
    malformed, the refusal names DATABASE_URL and never the password."""
    import dj_database_url

    from campaign_site.settings.base import database_from_url

    url = template.format(pw=password)
    try:  # as settings/base.py reads it
        database_from_url(Environment({"DATABASE_URL": url}).url("DATABASE_URL",
                                                                 schemes=tuple(dj_database_url.ENGINE_SCHEMES)))
    except ImproperlyConfigured as refused:
        assert "DATABASE_URL" in str(refused)
        assert password not in str(refused)
    else:  # the password made the URL well formed after all (a "@host:1/" in it): not this test's case
        assume(False)

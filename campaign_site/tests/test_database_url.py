"""DATABASE_URL's query options reach mysqlclient: TLS in the spelling mysqlclient reads, the rest
as given, our defaults kept unless the URL overrides them, and an unknown key stops start-up."""
from urllib.parse import urlencode

import MySQLdb
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.backends.mysql.base import DatabaseWrapper
from hypothesis import given
from hypothesis import strategies as st

from campaign_site.settings.base import (MYSQL_PASSTHROUGH_OPTIONS, MYSQL_SSL_FILES, MYSQL_SSL_MODES,
                                         database_from_url)

BASE = "mysql://app:change-me@db.example.com:3306/firstcome"
paths = st.from_regex(r"/etc/[a-z][a-z0-9_.-]{0,20}\.pem", fullmatch=True)
# Each TLS option in every spelling the URL may use → where it must land.
spellings = st.sampled_from(["ssl-{}", "ssl_{}", "SSL-{}"])


def options(query):
    return database_from_url(f"{BASE}?{urlencode(query)}")["OPTIONS"]


@given(mode=st.sampled_from(MYSQL_SSL_MODES), spelling=st.sampled_from(["ssl-mode", "ssl_mode", "sslmode"]),
       lower=st.booleans(), hyphen=st.booleans(), ca=paths, cert=paths, key=paths, ca_spelling=spellings,
       timeout=st.integers(1, 60))
def test_every_tls_option_survives_in_the_form_mysqlclient_reads(mode, spelling, lower, hyphen, ca, cert, key,
                                                                   ca_spelling, timeout):
    written = mode.lower() if lower else mode
    written = written.replace("_", "-") if hyphen else written
    got = options({spelling: written, ca_spelling.format("ca"): ca, "ssl-cert": cert, "ssl_key": key,
                   "connect_timeout": timeout})
    assert got == {"charset": "utf8mb4", "isolation_level": "read committed", "ssl_mode": mode,
                   "ssl": {"ca": ca, "cert": cert, "key": key}, "connect_timeout": timeout}


def test_a_ca_without_a_mode_means_verify_the_server_and_ssl_true_means_required():
    assert options({"ssl-ca": "/etc/ca.pem"})["ssl_mode"] == "VERIFY_CA"
    assert options({"ssl-ca": "/etc/ca.pem", "ssl-mode": "verify_identity"})["ssl_mode"] == "VERIFY_IDENTITY"
    assert options({"ssl": "true"})["ssl_mode"] == "REQUIRED"
    assert options({"ssl": "false"})["ssl_mode"] == "DISABLED"
    assert "ssl_mode" not in options({})  # none asked for: the client library's default


def test_url_options_are_merged_with_the_defaults_and_win_over_them():
    assert options({"charset": "utf8mb3", "read_timeout": 30}) == {
        "charset": "utf8mb3", "isolation_level": "read committed", "read_timeout": 30}
    sqlite = database_from_url("sqlite:////tmp/x.sqlite3?timeout=5")["OPTIONS"]
    assert sqlite["timeout"] == 5 and sqlite["transaction_mode"] == "IMMEDIATE"


KNOWN = {"ssl", "ssl_mode", "sslmode", *MYSQL_PASSTHROUGH_OPTIONS, *(f"ssl_{f}" for f in MYSQL_SSL_FILES)}


@given(key=st.from_regex(r"[a-z][a-z_-]{1,15}", fullmatch=True).filter(lambda k: k.replace("-", "_") not in KNOWN))
def test_an_unknown_option_stops_start_up_naming_it(key):
    with pytest.raises(ImproperlyConfigured, match=f"unknown DATABASE_URL option '{key}'; accepted: ssl-mode"):
        options({key: "1"})


@pytest.mark.parametrize("query, reason", [({"ssl-mode": "verify"}, "use one of DISABLED, PREFERRED"),
                                           ({"ssl": "yes"}, "use true or false")])
def test_a_bad_tls_value_stops_start_up_with_the_accepted_values(query, reason):
    with pytest.raises(ImproperlyConfigured, match=reason):
        options(query)


@pytest.mark.django_db
def test_mysqlclient_connects_with_the_parsed_options():
    url = "mysql://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict)
    config = database_from_url(f"{url}?ssl-mode=PREFERRED&connect_timeout=5&read_timeout=30")
    params = DatabaseWrapper({**connection.settings_dict, **config}).get_connection_params()
    with MySQLdb.connect(**params) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)

"""Whose failure a database error is (streaming/database_errors.py), asked of errors MariaDB
itself raises: each is signalled by the server with its error number, as a trigger or the server's
own condition would raise it, and arrives through the driver as the consumer meets it."""
import pytest
from django.db import DatabaseError, InterfaceError, connection
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from streaming.database_errors import CLIENT_ERRORS, DATABASE, RECORD, RECORD_ERRORS, SIZE_ERRORS, kind

pytestmark = pytest.mark.django_db


def raised_by_the_server(number: int, sqlstate: str = "HY000") -> DatabaseError:
    with pytest.raises(DatabaseError) as caught, connection.cursor() as cursor:
        cursor.execute(f"SIGNAL SQLSTATE '{sqlstate}' SET MYSQL_ERRNO = {number}, MESSAGE_TEXT = 'signalled by the test'")
    assert caught.value.args[0] == number  # the server's number reached us unchanged
    return caught.value


SERVER_NUMBERS = st.integers(1000, 4999).filter(lambda n: n not in CLIENT_ERRORS)


@hypothesis_settings(max_examples=150, deadline=None)
@given(number=st.one_of(SERVER_NUMBERS, st.sampled_from(sorted(RECORD_ERRORS))),
       sqlstate=st.sampled_from(["HY000", "45000", "23000", "22001"]))
def test_only_errors_about_a_records_values_are_the_records(number, sqlstate):
    exc = raised_by_the_server(number, sqlstate)
    assert kind(exc) == (RECORD if number in RECORD_ERRORS | SIZE_ERRORS else DATABASE)


@pytest.mark.parametrize("number, meaning", [
    (1114, "table full"), (1021, "disk full"), (1290, "read-only (a failover)"), (1836, "read-only mode"),
    (1053, "shutdown"), (1213, "deadlock"), (1205, "lock wait timeout"), (1040, "too many connections"),
    (1146, "a table missing during a deploy"), (1037, "out of memory")])
def test_the_servers_conditions_are_the_databases(number, meaning):
    assert kind(raised_by_the_server(number)) == DATABASE, meaning


@pytest.mark.parametrize("number, sqlstate, meaning", [
    (1062, "23000", "a duplicate"), (1048, "23000", "a NULL"), (1406, "22001", "too long"),
    (1366, "HY000", "a string the column refuses"), (1644, "45000", "a trigger refusing the row"),
    (4025, "23000", "a CHECK constraint"), (1153, "HY000", "a statement over max_allowed_packet: split"),
    (1969, "HY000", "a statement timeout: split")])
def test_a_records_values_are_the_records(number, sqlstate, meaning):
    assert kind(raised_by_the_server(number, sqlstate)) == RECORD, meaning


def test_a_lost_connection_and_the_codes_own_errors():
    assert kind(InterfaceError(0, "")) == DATABASE
    assert kind(DatabaseError(2013, "Lost connection to server during query")) == DATABASE
    assert kind(ValueError("the code's own error")) is None

"""The participation row (campaigns.rows): one column list, and every form of the row writes the
same values to MariaDB."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import rows
from campaigns.decision import Decision
from campaigns.epoch import from_epoch_us
from campaigns.models import Participation
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db


def test_the_row_has_every_concrete_column_of_the_model_in_its_order():
    """A column added to Participation fails here until campaigns.rows writes it (or names it as
    written later, by the redemption)."""
    columns = tuple(f.column for f in Participation._meta.concrete_fields if not f.primary_key)
    assert rows.COLUMNS + rows.LATER_COLUMNS == columns
    assert set(rows.KINDS) == set(rows.COLUMNS)


def test_the_decision_event_carries_the_row_but_the_flag_that_follows_the_status():
    assert rows.EVENT_COLUMNS == tuple(c for c in rows.COLUMNS if c != "is_decision")


def written_with(insert, decisions):
    """Insert the decisions one way, read their rows back, roll back."""
    with transaction.atomic():
        insert(decisions)
        written = sorted(Participation.objects.values_list(*rows.COLUMNS))
        transaction.set_rollback(True)
    return written


def with_orm(decisions):
    Participation.objects.bulk_create([Participation(**rows.orm_fields(d)) for d in decisions])


def with_parameters(decisions):
    placeholders = f"({', '.join(['%s'] * len(rows.COLUMNS))})"
    with connection.cursor() as cursor:
        cursor.executemany(rows.insert_head(connection) + placeholders, rows.parameters(connection, decisions))


def with_mysql_values(decisions):
    with connection.cursor() as cursor:
        cursor.execute(rows.insert_head(connection).encode() + b",".join(rows.mysql_values(connection, decisions)))


moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2999, 1, 1),
                       timezones=st.sampled_from([timezone.utc, ZoneInfo("Asia/Seoul"), ZoneInfo("America/St_Johns")]))
user_ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=64)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(st.tuples(user_ids, st.sampled_from(Participation.Status.values), moments,
                                   st.none() | moments, st.text(max_size=20)), min_size=1, max_size=8),
       decided_at=moments)
def test_every_form_writes_the_same_row(requests, decided_at):
    """The ORM's fields, the executemany parameters and the MySQL VALUES bytes store the row as
    row() spells it: hostile text, any time zone, a request without a broker timestamp."""
    if connection.vendor != "mysql" or connection.timezone_name != "UTC":
        pytest.skip("the VALUES bytes are the MySQL path with a UTC connection")
    campaign = CampaignFactory()
    decisions = [Decision(participation_request(campaign, f"{i}-{user_id}"[:64], offset=i, topic=topic,
                                                received_at=received, broker_timestamp=broker), status, decided_at)
                 for i, (user_id, status, received, broker, topic) in enumerate(requests)]
    expected = sorted(tuple(from_epoch_us(v) if rows.KINDS[c] == rows.TIME else v for c, v in zip(rows.COLUMNS, rows.row(d)))
                      for d in decisions)

    assert written_with(with_orm, decisions) == expected
    assert written_with(with_parameters, decisions) == expected
    assert written_with(with_mysql_values, decisions) == expected

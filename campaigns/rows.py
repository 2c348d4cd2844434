"""The participation row: its columns written once, and every form the row is written in.

A decided request becomes one Participation row, written three ways: through the ORM (one
request, campaigns.decision), or in one multi-row INSERT for a polled batch, as executemany
parameters or, on MySQL with a UTC connection, as VALUES bytes built here. The decision event
(campaigns.messages) and the statistics' raw store (stats.services) carry the same row. All of
them derive from COLUMNS and row(); how each value is written follows its model field's type.
Times are epoch microseconds in row() (campaigns.epoch), the form the request arrives in and the
event leaves in: the consumer makes no datetime per record.
campaigns/tests/test_rows.py holds COLUMNS to the model's concrete columns.
"""
from datetime import datetime, timedelta
from functools import lru_cache
from operator import attrgetter

from django.db import models, transaction

from campaigns.epoch import from_epoch_us, to_epoch_us
from campaigns.models import Participation

Status = Participation.Status

COLUMNS = ("request_id", "campaign_id", "user_id", "status", "is_decision", "topic", "partition", "offset",
           "broker_timestamp", "received_at", "decided_at", "coupon_code")
# Columns written after the decision, never by it (the redemption's): NULL in a new row.
LATER_COLUMNS = ("redeemed_at",)
# The decision event carries the row but is_decision, which follows from the status.
EVENT_COLUMNS = tuple(c for c in COLUMNS if c != "is_decision")


def row(decision) -> tuple:
    """A Decision's row, in COLUMNS order, times in epoch microseconds: the one encoder every
    form below starts from."""
    r = decision.request
    return (r.request_id, r.campaign_id, r.user_id, decision.status,
            None if decision.status == Status.DUPLICATE else True, r.topic, r.partition, r.offset,
            r.received_us if r.broker_us is None else r.broker_us, r.received_us,
            _decided_us(decision.decided_at), decision.coupon_code)


# A batch's decisions share one decided_at: converted once, not once per row.
_decided_us = lru_cache(maxsize=4)(to_epoch_us)


def orm_fields(decision) -> dict:
    """The row as Participation(**fields)."""
    return {c: from_epoch_us(v) if KINDS[c] == TIME else v for c, v in zip(COLUMNS, row(decision))}


# --- how each value is written, by the kind of its model field ---------------------------------
UUID, INT, TEXT, TEXT_OR_NULL, FLAG, TIME = "uuid", "int", "text", "text or null", "flag", "time"


def _kind(field) -> str:
    if isinstance(field, models.UUIDField):
        return UUID
    if isinstance(field, models.DateTimeField):
        return TIME
    if isinstance(field, models.BooleanField):
        return FLAG
    if isinstance(field, models.CharField):
        return TEXT_OR_NULL if field.null else TEXT
    if isinstance(field, (models.IntegerField, models.ForeignKey)):
        return INT
    raise TypeError(f"participation column {field.attname}: no encoding for {type(field).__name__}")


KINDS = {name: _kind(Participation._meta.get_field(name)) for name in COLUMNS}


def time_columns(columns=COLUMNS) -> tuple:
    return tuple(c for c in columns if KINDS[c] == TIME)


# --- the SQL ----------------------------------------------------------------------------------
ROWS_PER_STATEMENT = 5000  # ~1 MB of SQL, well under MySQL's max_allowed_packet
_MYSQL_TEMPLATE = b"(" + b",".join(
    {UUID: b"'%s'", INT: b"%d", TEXT: b"%s", TEXT_OR_NULL: b"%s", FLAG: b"%s", TIME: b"'%s'"}[KINDS[c]]
    for c in COLUMNS) + b")"


def participations_insert(decisions) -> None:
    """One multi-row INSERT of the decisions' rows, in the caller's transaction. At tens of
    thousands of rows a second, building ORM objects and adapting each value through the field
    machinery costs several times what the database does, so the values are prepared here
    directly, in the forms Django itself would send, a column at a time."""
    decisions = list(decisions)
    if not decisions:
        return
    connection = transaction.get_connection()
    head = insert_head(connection)
    with connection.cursor() as cursor:
        if connection.vendor == "mysql" and connection.timezone_name == "UTC":
            for start in range(0, len(decisions), ROWS_PER_STATEMENT):
                cursor.execute(head.encode() + b",".join(
                    mysql_values(connection, decisions[start:start + ROWS_PER_STATEMENT])))
        else:
            cursor.executemany(head + f"({', '.join(['%s'] * len(COLUMNS))})", parameters(connection, decisions))


def insert_head(connection) -> str:
    quote = connection.ops.quote_name
    return f"INSERT INTO {quote(Participation._meta.db_table)} ({', '.join(quote(c) for c in COLUMNS)}) VALUES "


def parameters(connection, decisions) -> list[tuple]:
    """Each row as the driver parameters Django would send."""
    return _by_column(_parameter_encoders(connection), decisions)


def mysql_values(connection, decisions) -> list[bytes]:
    """Each row's VALUES tuple as SQL bytes, without the driver's per-value literal() (a third of
    the insert's cost). Text goes through the driver's own escaping; everything else is an int,
    a UUID's canonical text, a flag, or a time formatted here as naive UTC (what Django
    sends when the connection's time zone is UTC)."""
    return [_MYSQL_TEMPLATE % values for values in _by_column(_mysql_encoders(connection), decisions)]


def _by_column(encoders, decisions):
    """The rows with each column's values encoded together: mostly C-level map()s, no Python
    call per value."""
    columns = zip(*map(row, decisions))
    return list(zip(*[encode(values) for encode, values in zip(encoders, columns)]))


def _parameter_encoders(connection):
    """Per column, the values as Django would pass them to the driver."""
    as_uuid = _uuid_text(connection)
    as_datetime = connection.ops.adapt_datetimefield_value
    by_kind = {UUID: lambda values: map(as_uuid, values),
               TIME: lambda values: map(as_datetime, map(from_epoch_us, values))}
    return [by_kind.get(KINDS[c], _same) for c in COLUMNS]


_FLAG_SQL = {None: b"NULL", True: b"1", False: b"0"}


def _mysql_encoders(connection):
    """Per column, the values as the bytes their _MYSQL_TEMPLATE slot takes."""
    escape = connection.connection.string_literal
    as_uuid = _uuid_text(connection)
    by_kind = {
        UUID: lambda values: map(str.encode, map(as_uuid, values)),
        INT: _same,
        TEXT: lambda values: map(escape, map(str.encode, values)),
        TEXT_OR_NULL: lambda values: [b"NULL" if v is None else escape(v.encode()) for v in values],
        FLAG: lambda values: map(_FLAG_SQL.__getitem__, values),
        # Each distinct time once: a batch shares one decided_at.
        TIME: lambda values: map({t: _naive_utc_text(t) for t in set(values)}.__getitem__, values),
    }
    return [by_kind[KINDS[c]] for c in COLUMNS]


def _same(values):
    return values


def _uuid_text(connection):
    """How a UUID is written for this database: canonical text for a native uuid column, 32 hex
    digits for Django's char(32) elsewhere."""
    return str if connection.features.has_native_uuid_field else attrgetter("hex")


def _naive_utc_text(epoch_us: int) -> bytes:
    """b"YYYY-MM-DD HH:MM:SS.ffffff" in UTC, what Django sends when the connection's time zone is
    UTC; a second's text is made once (a burst's requests share their seconds)."""
    seconds, micro = divmod(epoch_us, 1_000_000)
    return _second_text(seconds) + b".%06d" % micro


@lru_cache(maxsize=4096)
def _second_text(seconds: int) -> bytes:
    return str(_NAIVE_EPOCH + timedelta(seconds=seconds)).encode()


_NAIVE_EPOCH = datetime(1970, 1, 1)

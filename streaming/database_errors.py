"""Whose failure a database error is: the database's (wait, then retry the batch whole) or a
record's (split the batch to isolate it, then dead-letter it).

Classified by what the error is, not by a list of the database's failures: a record can cause
only a bounded family of errors, the ones about its values (a duplicate, a NULL, a value out of
range or too long, a string the column's character set refuses, a CHECK or a trigger that refuses
the row). Every other database error is the server's condition (connection, resources, disk or
table full, read-only during a failover, locks, shutdown, a missing table during a deploy), and an
error the code does not know is treated as the database's too: waiting on the database costs
time, while blaming the records would dead-letter a whole stream of good requests
(docs/guarantees.md, "The database's failures are the database's").
"""
from django.db import DatabaseError, DataError, IntegrityError, InterfaceError

DATABASE, RECORD = "database", "record"

# Server error numbers (MySQL 8 and MariaDB share them) about the row's own values. The driver
# reports most of them as IntegrityError or DataError; some (1366, 1644) as OperationalError.
RECORD_ERRORS = frozenset({
    1048,  # ER_BAD_NULL_ERROR: column cannot be null
    1062, 1586, 1859,  # ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME, ER_DUP_UNKNOWN_IN_INDEX
    1216, 1217, 1451, 1452, 1557,  # foreign keys
    1264, 1690,  # ER_WARN_DATA_OUT_OF_RANGE, ER_DATA_OUT_OF_RANGE
    1265, 1292, 1366, 1367, 1406, 1411,  # truncated, wrong value, incorrect string value, too long
    1267, 1270, 1271, 1300,  # illegal mix of collations, invalid character string
    1365,  # division by 0
    1644,  # ER_SIGNAL_EXCEPTION: a trigger's SIGNAL SQLSTATE '45000' refusing this row
    3819, 4025,  # CHECK constraint violated (MySQL 8, MariaDB)
})
# Errors the batch's size causes (a statement too large, a lock table or binlog cache filled, a
# statement timed out): splitting the batch resolves them, as it isolates a record's; a single
# record still failing so is the record's (too large for the server).
SIZE_ERRORS = frozenset({1153, 1197, 1206, 1969, 3024})
CLIENT_ERRORS = range(2000, 3000)  # the client library's own: the connection, never a record


def error_number(exc) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def kind(exc: BaseException) -> str | None:
    """DATABASE or RECORD for a database error; None for anything else (the code's own error on
    a record, which the caller isolates like a record's)."""
    if isinstance(exc, InterfaceError):  # Django's: not a DatabaseError, the connection's
        return DATABASE
    if not isinstance(exc, DatabaseError):
        return None
    number = error_number(exc)
    if number in CLIENT_ERRORS:
        return DATABASE
    if number in RECORD_ERRORS or number in SIZE_ERRORS:
        return RECORD
    if number is None and isinstance(exc, (IntegrityError, DataError)):
        return RECORD
    return DATABASE


def is_the_databases(exc: BaseException) -> bool:
    """True: wait and retry the batch whole; it is never dead-lettered for this."""
    return kind(exc) == DATABASE

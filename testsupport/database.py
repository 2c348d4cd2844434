"""Scratch databases on the test server, and what a read costs it."""
import contextlib

from django.db import connection


@contextlib.contextmanager
def scratch_database(suffix):
    """An empty database `<test database>_<suffix>` on the test server, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_{suffix}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def entries_read(read):
    """(read()'s answer, how many rows and index entries the server handed out for it): the
    session's Handler_read_* counters, which MySQL and MariaDB both keep. Shows that a read is one
    index range, whatever else the table holds. What reading the counters itself costs (nothing
    on MariaDB; MySQL 8 reads them from a performance_schema table) is measured and taken off."""
    def handled():
        with connection.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%%'")
            return sum(int(value) for _, value in cursor.fetchall())
    first = handled()
    before = handled()
    own_cost = before - first
    answer = read()
    return answer, handled() - before - own_cost

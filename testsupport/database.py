"""Scratch databases on the test server."""
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

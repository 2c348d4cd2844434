"""Who is the same user: the one whose user id is the same string, byte for byte.

User ids are opaque identifiers from the gateway. No trimming, case folding or Unicode
normalisation anywhere: "alice", "alice ", "Alice", "ａｌｉｃｅ" (full width), and "é" written as
U+00E9 or as "e" + U+0301 are different users. Python compares str that way already; the database must too, for the unique
decision key and every lookup, or the batch decider (which groups users in Python) and the
database disagree about who has a decision.
"""
from django.core.exceptions import ImproperlyConfigured
from django.db import migrations


def byte_exact_collation(connection) -> str | None:
    """The utf8mb4 collation that compares code points (so the bytes) and pads nothing, on a
    MySQL-family server; None elsewhere: SQLite's default BINARY collation is already that.

    utf8mb4_bin is PAD SPACE: it compares "alice " equal to "alice". MariaDB's NO PAD twin is
    utf8mb4_nopad_bin; MySQL 8 has no such name, its binary NO PAD collation is utf8mb4_0900_bin
    (from 8.0.17; older 8.0 releases have none, and keeping a padding one would be the bug again).
    """
    if connection.vendor != "mysql":
        return None
    if connection.mysql_is_mariadb:
        return "utf8mb4_nopad_bin"
    if connection.mysql_version < (8, 0, 17):
        raise ImproperlyConfigured("user ids need the utf8mb4_0900_bin collation: MySQL 8.0.17 or later")
    return "utf8mb4_0900_bin"


def make_user_id_byte_exact(schema_editor, model) -> None:
    """ALTER the model's user_id column to the byte-exact collation (its indexes follow); a no-op
    on engines that compare bytes already. Never fails on existing rows: the new collation only
    tells apart values the old one called equal, so a unique key that held still holds."""
    connection = schema_editor.connection
    collation = byte_exact_collation(connection)
    if collation is None:
        return
    field = model._meta.get_field("user_id")
    schema_editor.execute(
        f"ALTER TABLE {schema_editor.quote_name(model._meta.db_table)} "
        f"MODIFY {schema_editor.quote_name(field.column)} {field.db_type(connection)} "
        f"CHARACTER SET utf8mb4 COLLATE {collation} {'NULL' if field.null else 'NOT NULL'}")


def byte_exact_user_id_migration(app_label: str, model_name: str) -> migrations.RunPython:
    """The migration step that gives a model's user_id the byte-exact collation. Backwards is a
    no-op on purpose: earlier code is right with it too, and going back to a PAD SPACE collation
    would fail on any pair such as "alice"/"alice " decided since."""
    def forwards(apps, schema_editor):
        make_user_id_byte_exact(schema_editor, apps.get_model(app_label, model_name))

    return migrations.RunPython(forwards, migrations.RunPython.noop)


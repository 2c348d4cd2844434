from django.db import migrations


def user_id_case_sensitive(apps, schema_editor):
    # User ids are opaque identifiers from the gateway: "Bob" and "bob" are two users. MySQL's
    # default utf8mb4 collation is case-insensitive, which would make the unique decision key
    # treat them as one; SQLite compares bytes already.
    if schema_editor.connection.vendor == "mysql":
        schema_editor.execute(
            "ALTER TABLE participation MODIFY user_id varchar(64) "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL")


class Migration(migrations.Migration):
    atomic = False  # MySQL cannot roll back DDL
    dependencies = [("campaigns", "0001_initial")]
    operations = [migrations.RunPython(user_id_case_sensitive, migrations.RunPython.noop)]

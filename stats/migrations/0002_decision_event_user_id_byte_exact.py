from django.db import migrations

from campaigns.identity import make_user_id_byte_exact


def user_id_byte_exact(apps, schema_editor):
    # The raw events carry user ids as the decider compared them: byte for byte (the column had
    # the database's default collation, case-insensitive and PAD SPACE on a stock server).
    make_user_id_byte_exact(schema_editor, apps.get_model("stats", "DecisionEvent"))


class Migration(migrations.Migration):
    atomic = False  # MySQL cannot roll back DDL
    dependencies = [("stats", "0001_initial")]
    operations = [migrations.RunPython(user_id_byte_exact, migrations.RunPython.noop)]

from django.db import migrations

from campaigns.identity import byte_exact_user_id_migration


class Migration(migrations.Migration):
    # The raw events carry user ids as the decider compared them: byte for byte (the column had
    # the database's default collation, case-insensitive and PAD SPACE on a stock server).
    atomic = False  # MySQL cannot roll back DDL
    dependencies = [("stats", "0001_initial")]
    operations = [byte_exact_user_id_migration("stats", "DecisionEvent")]

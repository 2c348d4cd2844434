from django.db import migrations

from campaigns.identity import make_user_id_byte_exact


def user_id_byte_exact(apps, schema_editor):
    # 0002's utf8mb4_bin is PAD SPACE: "alice" and "alice " were one key for the unique decision
    # key and the IN lookups but two users for the batch decider, whose insert then failed.
    make_user_id_byte_exact(schema_editor, apps.get_model("campaigns", "Participation"))


class Migration(migrations.Migration):
    atomic = False  # MySQL cannot roll back DDL
    dependencies = [("campaigns", "0003_campaign_outcome_counters")]
    # Backwards is a no-op on purpose: the earlier code is right with the byte-exact collation too
    # (it was the PAD SPACE one that broke it), and going back to utf8mb4_bin would fail on any
    # pair such as "alice"/"alice " decided since.
    operations = [migrations.RunPython(user_id_byte_exact, migrations.RunPython.noop)]

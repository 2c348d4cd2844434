from django.db import migrations

from campaigns.identity import byte_exact_user_id_migration


class Migration(migrations.Migration):
    # 0002's utf8mb4_bin is PAD SPACE: "alice" and "alice " were one key for the unique decision
    # key and the IN lookups but two users for the batch decider, whose insert then failed.
    atomic = False  # MySQL cannot roll back DDL
    dependencies = [("campaigns", "0003_campaign_outcome_counters")]
    operations = [byte_exact_user_id_migration("campaigns", "Participation")]

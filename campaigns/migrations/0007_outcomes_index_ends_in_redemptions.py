"""The (campaign, status) index gains redeemed_at, so that a campaign's redeemed coupons are one
range of it (the dashboard asks every second). The new index is built before the old one goes:
no moment without an index on a campaign's outcomes."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0006_coupon_codes_for_earlier_winners"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="participation",
            index=models.Index(fields=["campaign", "status", "redeemed_at"], name="participation_outcomes"),
        ),
        migrations.RemoveIndex(
            model_name="participation",
            name="participation_campaign_status",
        ),
    ]

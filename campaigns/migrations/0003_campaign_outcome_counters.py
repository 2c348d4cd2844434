from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def count_existing_outcomes(apps, schema_editor):
    """Start the counters from the rows already decided (run it with the consumers stopped)."""
    Campaign = apps.get_model("campaigns", "Campaign")
    Participation = apps.get_model("campaigns", "Participation")

    def rows(status):
        counted = (Participation.objects.filter(campaign=OuterRef("pk"), status=status)
                   .values("campaign").annotate(n=Count("id")).values("n"))
        return Coalesce(Subquery(counted), Value(0))

    Campaign.objects.update(sold_out_count=rows("SOLD_OUT"), duplicate_count=rows("DUPLICATE"))


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0002_user_id_binary_collation")]
    operations = [
        migrations.AddField(
            model_name="campaign", name="sold_out_count",
            field=models.PositiveBigIntegerField(default=0, editable=False)),
        migrations.AddField(
            model_name="campaign", name="duplicate_count",
            field=models.PositiveBigIntegerField(default=0, editable=False)),
        migrations.RunPython(count_existing_outcomes, migrations.RunPython.noop),
    ]

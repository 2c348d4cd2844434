from django.db import migrations, models

COUPON_CODE = models.CharField(blank=True, editable=False, max_length=16, null=True, unique=True)


def add_coupon_code(apps, schema_editor):
    """The column with its unique key, in one ALTER. On MySQL/MariaDB the code is ASCII compared
    byte for byte (ascii_bin): the database's default collation is case-insensitive, which would
    call two codes one. ascii_bin pads spaces, which no code has (campaigns.coupons)."""
    Participation = apps.get_model("campaigns", "Participation")
    if schema_editor.connection.vendor != "mysql":
        field = COUPON_CODE.clone()
        field.set_attributes_from_name("coupon_code")
        schema_editor.add_field(Participation, field)
        return
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"ALTER TABLE {quote(Participation._meta.db_table)} "
        f"ADD COLUMN {quote('coupon_code')} varchar(16) CHARACTER SET ascii COLLATE ascii_bin NULL, "
        f"ADD CONSTRAINT {quote('participation_coupon_code_uniq')} UNIQUE ({quote('coupon_code')})")


def remove_coupon_code(apps, schema_editor):
    # Dropping the column drops its unique key with it (MySQL/MariaDB; SQLite cannot drop a
    # unique column in place, and only serves the local runs that start from an empty database).
    quote = schema_editor.quote_name
    schema_editor.execute(f"ALTER TABLE {quote(apps.get_model('campaigns', 'Participation')._meta.db_table)} "
                          f"DROP COLUMN {quote('coupon_code')}")


class Migration(migrations.Migration):
    atomic = False  # MySQL cannot roll back DDL
    dependencies = [("campaigns", "0004_user_id_byte_exact")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField(model_name="participation", name="coupon_code", field=COUPON_CODE)],
            database_operations=[migrations.RunPython(add_coupon_code, remove_coupon_code)],
        ),
        migrations.AddField(
            model_name="participation",
            name="redeemed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True,
                                       help_text="when the coupon was redeemed at the till"),
        ),
        migrations.AddIndex(
            model_name="participation",
            index=models.Index(fields=["redeemed_at", "campaign"], name="participation_redeemed"),
        ),
        migrations.AddConstraint(
            model_name="participation",
            constraint=models.CheckConstraint(condition=models.Q(coupon_code__isnull=True) | models.Q(status="SUCCESS"),
                                              name="participation_coupon_only_for_success"),
        ),
    ]

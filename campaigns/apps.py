from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from campaigns import roles, schema
        from campaigns.compat import schema as original_schema

        schema.describe()
        original_schema.describe()  # the path both contracts share
        roles.connect()

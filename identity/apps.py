from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from identity import schema  # noqa: F401  registers the token's OpenAPI scheme

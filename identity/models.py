from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A staff API client's credential (a till, a script): `Authorization: Token fct_<prefix>_<secret>`.

    Only the secret's SHA-256 is kept. The secret is 256 random bits, so a fast hash is enough
    (nothing to guess from it) and the check costs one indexed lookup by prefix, not a password
    hash (identity.api_tokens). Revoked, never deleted: the admin keeps who had which."""

    name = models.CharField(max_length=100, help_text="what holds it: 'till 3, Gangnam store'")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens",
                             help_text="the account it acts as; its groups say what it may do")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "api_token"
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} (fct_{self.prefix}_…)"

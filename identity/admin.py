"""API tokens in the admin: listed with who holds them and when they were last used; made here
(the token is shown once, in the page's message) and revoked here."""
from django.contrib import admin, messages
from django.utils import timezone

from identity.api_tokens import api_token_create, api_token_revoke
from identity.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    fields = ["name", "user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "user"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, presented = api_token_create(user=obj.user, name=obj.name)
        obj.pk = token.pk
        self.message_user(request, f"The token for {token.name}, shown this once: {presented}", messages.WARNING)

    @admin.action(description="Revoke: the token stops working at once")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token)
        self.message_user(request, f"revoked at {timezone.now():%Y-%m-%d %H:%M:%S}")

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, kept: who had which stays on record

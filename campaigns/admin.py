from django.contrib import admin

from campaigns import services
from campaigns.models import Campaign, Participation


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "total_stock", "remaining_stock", "starts_at", "ends_at", "created_at"]
    search_fields = ["name"]
    fields = ["name", "total_stock", "remaining_stock", "starts_at", "ends_at"]

    def get_readonly_fields(self, request, obj=None):
        # Stock only moves through the decision; once a campaign exists it is not edited by hand.
        return ["remaining_stock"] if obj is None else ["total_stock", "remaining_stock"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.campaign_create(name=obj.name, total_stock=obj.total_stock,
                                           starts_at=obj.starts_at, ends_at=obj.ends_at)
        obj.pk, obj.remaining_stock = created.pk, created.remaining_stock

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Participation)
class ParticipationAdmin(admin.ModelAdmin):
    list_display = ["request_id", "campaign", "user_id", "status", "partition", "offset", "decided_at"]
    list_filter = ["status", "campaign"]
    search_fields = ["user_id", "=request_id"]
    list_select_related = ["campaign"]
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

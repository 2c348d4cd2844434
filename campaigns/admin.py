from django.contrib import admin

from campaigns import services
from campaigns.models import Campaign, Participation


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "total_stock", "remaining_stock", "starts_at", "ends_at", "created_at"]
    search_fields = ["name"]
    fields = ["name", "total_stock", "remaining_stock", "sold_out_count", "duplicate_count",
              "starts_at", "ends_at"]

    def get_fields(self, request, obj=None):
        # A new campaign starts full with zero counters: only its total stock is asked for.
        decided = Campaign.DECISION_FIELDS - {"total_stock"}
        return self.fields if obj else [name for name in self.fields if name not in decided]

    def get_readonly_fields(self, request, obj=None):
        # Stock and counters move only through the decision (Campaign.DECISION_FIELDS): shown,
        # never edited; Campaign.save() on the change below writes the other columns only.
        return sorted(Campaign.DECISION_FIELDS) if obj else []

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
    list_display = ["request_id", "campaign", "user_id", "status", "partition", "offset", "decided_at",
                    "coupon_code", "redeemed_at"]
    list_filter = ["status", ("redeemed_at", admin.EmptyFieldListFilter), "campaign"]
    search_fields = ["user_id", "=request_id", "=coupon_code"]
    list_select_related = ["campaign"]
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

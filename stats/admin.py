"""The statistics in the admin, read-only: they are produced only by consume_stats and
run_stats_batch, and the run history is a record, not something to edit."""
from django.contrib import admin
from django.db.models import Count

from campaigns.admin import CappedCountPaginator
from stats.models import BatchRun, BatchRunFailure, CampaignStats, DecisionEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BatchRunFailureInline(admin.TabularInline):
    model = BatchRunFailure
    fields = ["campaign_id", "stats_date", "error", "traceback"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BatchRun)
class BatchRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "job_name", "date_from", "date_to", "status", "started_at", "finished_at",
                    "rows_read", "rows_written", "failure_count"]
    list_filter = ["status", "job_name"]
    date_hierarchy = "date_from"
    fields = ["job_name", "parameters", "status", "started_at", "finished_at", "rows_read",
              "rows_written", "message"]
    readonly_fields = fields
    inlines = [BatchRunFailureInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(failure_count=Count("failures"))

    @admin.display(description="failed campaigns", ordering="failure_count")
    def failure_count(self, run):
        return run.failure_count


@admin.register(CampaignStats)
class CampaignStatsAdmin(ReadOnlyAdmin):
    list_display = ["stats_date", "campaign", "success_count", "sold_out_count", "duplicate_count",
                    "first_received_at", "last_received_at", "aggregated_at", "batch_run"]
    list_filter = ["stats_date", "campaign"]
    list_select_related = ["campaign"]
    date_hierarchy = "stats_date"


@admin.register(DecisionEvent)
class DecisionEventAdmin(ReadOnlyAdmin):
    list_display = ["request_id", "campaign_id", "user_id", "status", "received_at", "decided_at", "stored_at"]
    list_filter = ["status"]
    search_fields = ["=request_id", "=user_id"]  # equality: a LIKE '%term%' would read every row
    # No COUNT(*) over millions of raw rows: neither the total, nor the filtered count beyond the
    # paginator's cap, nor a count per filter choice.
    show_full_result_count = False
    paginator = CappedCountPaginator
    show_facets = admin.ShowFacets.NEVER

"""The admin that operates campaigns: status and outcomes at a glance, close one now, the live
dashboard and the winners' CSV one click away; participations read-only, fast on millions of rows."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from campaigns import selectors, services
from campaigns.errors import CampaignChangedMeanwhile, CampaignNotOpen
from campaigns.models import Campaign, Participation


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows (a COUNT over a LIMIT subquery) instead of COUNT(*) over the
    whole filtered table: pages beyond the cap are reached by narrowing the filters instead."""

    COUNT_CAP = 10_000
    capped = False  # more rows than COUNT_CAP: the page shows "10000+"

    @cached_property
    def count(self):
        counted = self.object_list[:self.COUNT_CAP + 1].count()
        self.capped = counted > self.COUNT_CAP
        return min(counted, self.COUNT_CAP)


class CampaignStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Campaign.Status.choices

    def queryset(self, request, queryset):
        if self.value() not in Campaign.Status.values:
            return queryset
        return queryset.filter(selectors.campaign_status_filter(status=self.value(), now=timezone.now()))


ISSUED = F("total_stock") - F("remaining_stock")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "status", "stock", "success", "sold_out", "duplicates", "live", "starts_at",
                    "ends_at"]
    list_display_links = ["id", "name"]
    list_filter = [CampaignStatusFilter, "starts_at", "ends_at"]
    search_fields = ["name", "id"]
    search_help_text = "part of the name (any case), or the campaign's id"
    actions = ["close_now"]
    fields = ["name", "total_stock", "remaining_stock", "sold_out_count", "duplicate_count",
              "starts_at", "ends_at"]

    def get_search_results(self, request, queryset, search_term):
        # The name column compares bytes (utf8mb4_bin), so a plain LIKE would be case-sensitive;
        # campaigns are few, the LOWER() scan is cheap.
        if not search_term:
            return queryset, False
        matches = Q(name_lower__contains=search_term.lower())
        if search_term.isascii() and search_term.isdigit():  # "²".isdigit(), but int("²") fails
            matches |= Q(pk=int(search_term))
        return queryset.alias(name_lower=Lower("name")).filter(matches), False

    @admin.display(description="status")
    def status(self, campaign):
        return Campaign.Status(campaign.status_at(timezone.now())).label

    @admin.display(description="issued / total", ordering=ISSUED)
    def stock(self, campaign):
        return f"{campaign.total_stock - campaign.remaining_stock} / {campaign.total_stock}"

    @admin.display(description="success", ordering=ISSUED)
    def success(self, campaign):
        # From the counters the decision keeps on the row: no participation is counted per row.
        return selectors.outcome_counters(campaign)[Participation.Status.SUCCESS]

    @admin.display(description="sold out", ordering="sold_out_count")
    def sold_out(self, campaign):
        return campaign.sold_out_count

    @admin.display(description="duplicates", ordering="duplicate_count")
    def duplicates(self, campaign):
        return campaign.duplicate_count

    @admin.display(description="live")
    def live(self, campaign):
        return format_html('<a href="{}">dashboard</a> · <a href="{}">winners.csv</a>',
                           dashboard_url(campaign), winners_csv_url(campaign))

    @admin.action(description="Close now: stop taking participations", permissions=["change"])
    def close_now(self, request, queryset):
        now = timezone.now()
        closed = []
        for campaign in queryset:
            try:
                closed.append(services.campaign_close_now(campaign_id=campaign.pk, now=now))
            except CampaignNotOpen as refused:
                self.message_user(request, refused.message, messages.WARNING)
        if closed:
            self.message_user(request, closed_message(closed), messages.SUCCESS)

    def get_urls(self):
        close = self.admin_site.admin_view(require_POST(self.close_now_view))
        return [path("<int:campaign_id>/close-now/", close, name="campaigns_campaign_close_now"),
                *super().get_urls()]

    def close_now_view(self, request, campaign_id):
        """The change page's "Close now" button."""
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        self.close_now(request, Campaign.objects.filter(pk=campaign.pk))
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except CampaignChangedMeanwhile as refused:  # the save's transaction has rolled back
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            status = campaign.status_at(timezone.now())
            extra_context = {**(extra_context or {}), "campaign_status": Campaign.Status(status).label,
                             "closable": status in (Campaign.Status.OPEN, Campaign.Status.SOLD_OUT),
                             "dashboard_url": dashboard_url(campaign),
                             "winners_csv_url": winners_csv_url(campaign)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_fields(self, request, obj=None):
        # A new campaign starts full with zero counters: only its total stock is asked for.
        decided = Campaign.DECISION_FIELDS - {"total_stock"}
        return self.fields if obj else [name for name in self.fields if name not in decided]

    def get_readonly_fields(self, request, obj=None):
        # Stock and counters move only through the decision (Campaign.DECISION_FIELDS): shown,
        # never edited; the change below writes only the columns the form changed.
        return sorted(Campaign.DECISION_FIELDS) if obj else []

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in EDITABLE_AFTER_CREATION:
            # The page carries what it showed, so changed_data compares the operator's edit with
            # what the operator saw, not with the row as it is at the POST: a field another
            # operator (or "Close now") changed meanwhile is not written back.
            field.show_hidden_initial = True
        return field

    def save_model(self, request, obj, form, change):
        if change:
            services.campaign_edit(campaign=obj, changed=form.changed_data)
            return
        created = services.campaign_create(name=obj.name, total_stock=obj.total_stock,
                                           starts_at=obj.starts_at, ends_at=obj.ends_at)
        obj.pk, obj.remaining_stock = created.pk, created.remaining_stock

    def has_delete_permission(self, request, obj=None):
        return False


EDITABLE_AFTER_CREATION = ("name", "starts_at", "ends_at")


def dashboard_url(campaign):
    return f"{reverse('dashboard')}?campaign_id={campaign.pk}"


def winners_csv_url(campaign):
    return reverse("campaign-winners-csv", args=[campaign.pk])


def closed_message(campaigns):
    names = ", ".join(str(c) for c in campaigns)
    return (f"Closed {names}: no participation is taken from now on (other web processes follow within "
            f"their campaign-window cache, FIRSTCOME_CAMPAIGN_CACHE_S); what was accepted before is still decided.")


@admin.register(Participation)
class ParticipationAdmin(admin.ModelAdmin):
    list_display = ["request_id", "campaign", "user_id", "status", "partition", "offset", "decided_at",
                    "coupon_code", "redeemed_at"]
    list_filter = ["status", ("redeemed_at", admin.EmptyFieldListFilter), "campaign"]
    search_fields = ["user_id", "request_id", "coupon_code"]
    search_help_text = ("exactly one user id (byte for byte), request id or coupon code (typed as on the "
                        "coupon: case and hyphens do not matter)")
    list_select_related = ["campaign"]
    ordering = ["-id"]
    # No COUNT(*) over millions of rows: neither the unfiltered total, nor the filtered one beyond
    # the paginator's cap, nor a count per filter choice.
    show_full_result_count = False
    paginator = CappedCountPaginator
    show_facets = admin.ShowFacets.NEVER

    def get_search_results(self, request, queryset, search_term):
        """Equality on each column the term can be, each through an index
        (selectors.participation_ids_matching), never the default LIKE '%term%' over every row."""
        if not search_term:
            return queryset, False
        return queryset.filter(pk__in=selectors.participation_ids_matching(term=search_term)), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""The statistics over HTTP, for staff with the statistics permissions (campaigns.roles): a day's
numbers for every campaign, one campaign over a range of days, the same day computed live from the
raw decision events with both query times, and the batch: start a run, a run's status, the runs.
Days are calendar days in TIME_ZONE, as the batch counts them (stats.days)."""
import time
from datetime import date

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import roles, selectors as campaign_selectors
from campaigns.messages import to_epoch_us
from campaigns.permissions import requires
from campaigns.schema import STAFF_ONLY, error
from stats import selectors, services
from stats.days import day_bounds, days_between, parse_day
from stats.models import BatchRun, BatchRunFailure, CampaignStats
from stats.fairness import fairness_report

MAX_RANGE_DAYS = 93  # one call reads at most a quarter of a campaign's rows
MAX_BATCH_DAYS = 31  # a run started over HTTP is answered when it is done: a month at most


@extend_schema_field(OpenApiTypes.DATE)
class DayField(serializers.Field):
    """A statistics day, YYYY-MM-DD, parsed by the rule the batch uses (stats.days.parse_day)."""

    default_error_messages = {"invalid": "{reason}"}

    def to_internal_value(self, value):
        if not isinstance(value, str):
            raise ValidationError("a day, YYYY-MM-DD")
        try:
            return parse_day(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value.isoformat()


def day_range_serializer(cap: int, doc: str):
    """A serializer of {"from", "to"}: both days, in order, at most `cap` of them."""

    class DayRange(serializers.Serializer):
        to = DayField()

        def validate(self, attrs):
            first, last = attrs["from"], attrs["to"]
            if first > last:
                raise ValidationError({"from": f"{first} is after to {last}"})
            if len(days_between(first, last)) > cap:
                raise ValidationError({"to": f"at most {cap} days per call ({len(days_between(first, last))} asked)"})
            return attrs

    DayRange._declared_fields["from"] = DayField()  # "from" is a keyword: declared here
    DayRange.__name__ = DayRange.__qualname__ = doc
    return DayRange


CampaignDaysQuery = day_range_serializer(MAX_RANGE_DAYS, "CampaignDaysQuery")
BatchRunRequestSerializer = day_range_serializer(MAX_BATCH_DAYS, "BatchRunRequest")


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class CampaignDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignStats
        fields = ["campaign_id", "stats_date", "success_count", "sold_out_count", "duplicate_count", "redeemed_count",
                  "first_received_at", "last_received_at", "aggregated_at", "batch_run_id"]


class BatchRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchRun
        fields = ["id", "job_name", "date_from", "date_to", "time_zone", "status", "started_at", "finished_at",
                  "rows_read", "rows_written", "message"]


class BatchRunFailureSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchRunFailure
        fields = ["campaign_id", "stats_date", "error"]


class BatchRunDetailSerializer(BatchRunSerializer):
    failures = BatchRunFailureSerializer(many=True, read_only=True)

    class Meta(BatchRunSerializer.Meta):
        fields = [*BatchRunSerializer.Meta.fields, "failures"]


class DayStatsSerializer(serializers.Serializer):
    date = serializers.DateField()
    campaigns = CampaignDaySerializer(many=True)


class CampaignRangeSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    to = serializers.DateField()
    days = CampaignDaySerializer(many=True)


CampaignRangeSerializer._declared_fields["from"] = serializers.DateField()  # "from" is a keyword


class OutcomeCountsSerializer(serializers.Serializer):
    success_count = serializers.IntegerField()
    sold_out_count = serializers.IntegerField()
    duplicate_count = serializers.IntegerField()


class LiveCampaignSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    live = OutcomeCountsSerializer()
    batch = OutcomeCountsSerializer(allow_null=True)


class LiveDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    live_query_ms = serializers.FloatField()
    batch_query_ms = serializers.FloatField()
    campaigns = LiveCampaignSerializer(many=True)


ERRORS = {400: error("a bad day or range: `errors` names the parameter and the reason"), **STAFF_ONLY}


class StatsView(APIView):
    permission_classes = [requires(GET=roles.VIEW_STATISTICS)]


class DayStatsView(StatsView):
    """GET /api/admin/stats/days/{date}: the batch's numbers of that day, every campaign."""

    @extend_schema(responses={200: DayStatsSerializer, **ERRORS})
    def get(self, request, day):
        day = _path_day(day)
        rows = selectors.campaign_stats_of_day(day)
        return Response({"date": day, "campaigns": CampaignDaySerializer(rows, many=True).data})


class CampaignStatsView(StatsView):
    """GET /api/admin/stats/campaigns/{id}?from=&to=: one campaign, day by day (at most 93 days)."""

    @extend_schema(parameters=[OpenApiParameter("from", OpenApiTypes.DATE, required=True),
                               OpenApiParameter("to", OpenApiTypes.DATE, required=True)],
                   responses={200: CampaignRangeSerializer, 404: error("no such campaign"),
                              **ERRORS})
    def get(self, request, campaign_id):
        campaign_selectors.campaign_get(campaign_id)
        days = valid(CampaignDaysQuery, request.query_params)
        first, last = days["from"], days["to"]
        rows = selectors.campaign_stats_between(campaign_id, first, last)
        return Response({"campaign_id": campaign_id, "from": first, "to": last,
                         "days": CampaignDaySerializer(rows, many=True).data})


class LiveDayStatsView(StatsView):
    """GET /api/admin/stats/days/{date}/live: the day computed now from the raw decision events,
    beside the batch's rows for it, each with the time its query took (the original's argument for
    the batch)."""

    @extend_schema(responses={200: LiveDaySerializer, **ERRORS})
    def get(self, request, day):
        day = _path_day(day)
        started = time.perf_counter()
        start, end = (to_epoch_us(bound) for bound in day_bounds(day))
        counts = selectors.day_counts_by_campaign(day, start, end)
        live_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        batch = {row.campaign_id: row for row in selectors.campaign_stats_of_day(day)}
        batch_ms = (time.perf_counter() - started) * 1000
        campaigns = []
        for campaign_id, by_status in counts.items():
            live = {f"{s.lower()}_count": by_status.get(s, (0, None, None))[0] for s in ("SUCCESS", "SOLD_OUT", "DUPLICATE")}
            row = batch.get(campaign_id)
            campaigns.append({"campaign_id": campaign_id, "live": live,
                              "batch": None if row is None else OutcomeCountsSerializer(row).data})
        return Response({"date": day, "live_query_ms": round(live_ms, 2), "batch_query_ms": round(batch_ms, 2),
                         "campaigns": campaigns})


class FairnessSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    events = serializers.IntegerField()
    unfair_winners_by_receipt = serializers.IntegerField(help_text="winners received after the first sold-out request")
    largest_unfair_gap_ms = serializers.FloatField()
    unfair_winners_by_broker = serializers.IntegerField()
    receipt_inversions = serializers.IntegerField(help_text="decisions made after that of a request received later")
    largest_inversion_ms = serializers.FloatField()
    switch_ratio = serializers.FloatField()
    key_order_violations = serializers.IntegerField()
    receipt_to_decision_p50_ms = serializers.FloatField(allow_null=True)
    receipt_to_decision_p99_ms = serializers.FloatField(allow_null=True)
    query_ms = serializers.FloatField()


class FairnessView(StatsView):
    """GET /api/admin/stats/campaigns/{id}/fairness: from the campaign's stored decision events."""

    @extend_schema(responses={200: FairnessSerializer, 404: error("no such campaign"), **STAFF_ONLY})
    def get(self, request, campaign_id):
        campaign_selectors.campaign_get(campaign_id)
        started = time.perf_counter()
        report = fairness_report(selectors.campaign_decided_events(campaign_id))
        return Response({"campaign_id": campaign_id, **report.as_dict(),
                         "query_ms": round((time.perf_counter() - started) * 1000, 2)})


class BatchRunsPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


class BatchRunsView(APIView):
    """GET: the runs, newest first, paginated. POST {"from", "to"}: run the batch for those days
    (at most 31), as run_stats_batch does, answered once it is done; 409 while another runs."""

    permission_classes = [requires(GET=roles.VIEW_STATISTICS, POST=roles.RUN_STATS_BATCH)]

    @extend_schema(parameters=[OpenApiParameter("limit", OpenApiTypes.INT), OpenApiParameter("offset", OpenApiTypes.INT)],
                   responses={200: BatchRunSerializer(many=True), **STAFF_ONLY})
    def get(self, request):
        paginator = BatchRunsPagination()
        page = paginator.paginate_queryset(selectors.batch_runs(), request, view=self)
        return paginator.get_paginated_response(BatchRunSerializer(page, many=True).data)

    @extend_schema(request=BatchRunRequestSerializer,
                   responses={201: BatchRunDetailSerializer, 409: error("`code` `batch_run_in_progress`: another run holds the lock"),
                              **ERRORS})
    def post(self, request):
        days = valid(BatchRunRequestSerializer, request.data if isinstance(request.data, dict) else {})
        run = services.stats_batch_run_alone(date_from=days["from"], date_to=days["to"])
        run = selectors.batch_run_get(run.pk)
        return Response(BatchRunDetailSerializer(run).data, status=status.HTTP_201_CREATED)


class BatchRunView(StatsView):
    """GET /api/admin/stats/batch-runs/{id}: a run's status, volumes and per-campaign failures."""

    @extend_schema(responses={200: BatchRunDetailSerializer, 404: error("no such run"), **STAFF_ONLY})
    def get(self, request, run_id):
        run = selectors.batch_run_get(run_id)
        if run is None:
            raise NotFound(f"no batch run {run_id}")
        return Response(BatchRunDetailSerializer(run).data)


def _path_day(text: str) -> date:
    return valid(PathDay, {"date": text})["date"]


class PathDay(serializers.Serializer):
    date = DayField()

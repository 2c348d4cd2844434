"""The staff dashboard page and the snapshot it polls every second."""
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import CampaignNotFound
from campaigns.schema import STAFF_ONLY, error
from campaigns.selectors import campaign_get, campaign_list
from monitoring.selectors import monitoring_snapshot

CAMPAIGNS_LISTED = 50


def dashboard(request):
    """Staff only: anonymous users go to the admin login and come back, others get 403."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not request.user.is_staff:
        raise PermissionDenied("the dashboard is for staff")
    campaigns = list(campaign_list().values("id", "name")[:CAMPAIGNS_LISTED])
    context = {"campaigns": campaigns, "campaign": None, "error": None}
    wanted = request.GET.get("campaign_id") or (campaigns[0]["id"] if campaigns else None)
    status = 200
    if wanted is not None:
        try:
            campaign = context["campaign"] = campaign_get(wanted)
        except CampaignNotFound as exc:
            context["error"], status = exc.message, 404
        else:
            if all(c["id"] != campaign.pk for c in campaigns):  # older than the ones listed
                campaigns.append({"id": campaign.pk, "name": campaign.name})
    return render(request, "monitoring/dashboard.html", context, status=status)


class SnapshotQuerySerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField(min_value=1)


@extend_schema_view(
    get=extend_schema(summary="Monitoring snapshot of a campaign (staff)",
                      parameters=[OpenApiParameter("campaign_id", int, required=True)],
                      responses={200: OpenApiResponse(description="cumulative counters, see docs/operations.md"),
                                 400: error("campaign_id missing or not a positive integer"),
                                 404: error("no such campaign"), **STAFF_ONLY}),
)
class SnapshotView(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request):
        query = SnapshotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        response = Response(monitoring_snapshot(query.validated_data["campaign_id"]))
        response["Cache-Control"] = "no-store"
        return response

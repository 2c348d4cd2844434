"""The synchronous baselines' endpoint. Only routed where the lab is installed (local and test
settings); within those, off unless settings.FIRSTCOME_EXPERIMENT_ENDPOINTS, and loopback only."""
import ipaddress

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response

from campaigns.errors import ExperimentsDisabled, LoopbackOnly
from campaigns.serializers import ParticipationResultSerializer
from campaigns.views import PublicAPIView, participation_user
from identity.drf import IsParticipant, ParticipantAuthentication
from lab import services


@extend_schema_view(post=extend_schema(exclude=True))  # an experiment, not part of the API
class ParticipationSyncView(PublicAPIView):
    """POST ?strategy=naive|atomic|locked: the experiment's synchronous decision, no Kafka,
    answered 200 with the outcome. Loopback clients only (the experiment runs on the server's
    machine, and staff authentication on every request would weigh on the latencies it measures).
    The participant is who their token says, as on the Kafka path, so both pay the same check.
    """

    authentication_classes = [ParticipantAuthentication]
    permission_classes = [IsParticipant]

    def post(self, request, campaign_id):
        if not settings.FIRSTCOME_EXPERIMENT_ENDPOINTS:
            raise ExperimentsDisabled("the synchronous experiment endpoints are off; "
                                      "FIRSTCOME_EXPERIMENT_ENDPOINTS=1 turns them on (never in production)")
        if not from_loopback(request):
            raise LoopbackOnly("the synchronous experiment endpoints answer clients on this machine "
                               "only, not through a proxy")
        decision = services.participation_decide_sync(
            campaign_id=campaign_id, user_id=participation_user(request),
            strategy=request.query_params.get("strategy", ""))
        r = decision.request
        return Response(ParticipationResultSerializer(
            {"request_id": r.request_id, "campaign_id": r.campaign_id, "user_id": r.user_id,
             "status": decision.status}).data)


def from_loopback(request):
    """A direct client on this machine: a forwarded request's REMOTE_ADDR is the proxy's."""
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False

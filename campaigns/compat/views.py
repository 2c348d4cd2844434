"""The original contract's endpoints: thin views over the same services and selectors as the
native API, answering in the original's envelope (campaigns.compat.envelope). The participation
POST is also answered on the event loop (campaigns.compat.ingest), exactly as this view would."""
import functools
import json

from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import (
    NotAuthenticated,
    PermissionDenied,
    ValidationError,
)
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from campaign_site.parsers import may_be_too_deep
from campaigns import roles, selectors, services
from campaigns.permissions import requires
from campaigns import views as native
from campaigns.compat import envelope
from campaigns.compat.serializers import (
    USER_ID_FIELD,
    CampaignCreateSerializer,
    CampaignSerializer,
    CampaignStatusSerializer,
    ParticipationRequestSerializer,
)
from campaigns.errors import DomainError
from campaigns.models import Participation
from campaigns.schema import TOO_LARGE
from campaigns.throttles import ParticipationUserThrottle
from identity.drf import IsParticipant, ParticipantAuthentication, participant_of

TAG = "original contract"
ACCEPTED = "참여 요청이 접수되었습니다."  # the original's message; the request id follows it
SUCCEEDED = "요청이 성공했습니다."
CREATED = "캠페인이 생성되었습니다."


def accepted_message(request_id) -> str:
    """The participation's message: the original's, and the request id (the native result
    endpoints find the outcome by it)."""
    return f"{ACCEPTED} request_id={request_id}"


class NotServedHere(DomainError, http_status=404, code="not_served_here"):
    """An endpoint of the original's that this installation does not serve (the lab's)."""


def answer(name, data=None, *, failure=False, enveloped=True):
    """The envelope's schema, `data` holding `data` (a serializer) or null. enveloped=False: the
    envelope's fields may be absent (the site's own 404 for a path no route matches)."""
    fields = {"success": serializers.BooleanField(required=enveloped), "message": serializers.CharField(required=enveloped),
              "errorCode": serializers.CharField(allow_null=True, required=enveloped),
              "data": data if data is not None else serializers.JSONField(allow_null=True, required=enveloped)}
    if failure:
        fields.update(detail=serializers.CharField(), code=serializers.CharField(),
                      errors=serializers.DictField(required=False, help_text="400: what is wrong with each field"))
    return inline_serializer(name, fields)


@functools.cache
def original_error():
    """One OriginalError component shared by every refusal: two inline serializers of one name
    make drf-spectacular warn, and `check --deploy` fails on warnings."""
    return answer("OriginalError", failure=True)


def refused(description):
    return OpenApiResponse(original_error(),
                           description=f"{description}: success false, firstcome's detail and code beside it")


BAD_BODY = refused("invalid body (COMMON_002)")
UNSUPPORTED = refused("body not sent as application/json")
UNKNOWN_CAMPAIGN = OpenApiResponse(
    answer("OriginalNotFound", failure=True, enveloped=False),
    description="no such campaign (CAMPAIGN_001), in the envelope; an id that is not a whole number matches "
                "no route: the site's own 404 {detail, code}")


class OriginalAPIView(APIView):
    """Every error in the envelope; JSON whatever the Accept header says, as the native API."""

    content_negotiation_class = native.JSONOnlyNegotiation

    def get_exception_handler(self):
        return envelope.exception_handler


def original_user_id(request) -> str | None:
    """The body's userId as firstcome's user id (its decimal string); 400 naming it otherwise;
    None when absent in jwt mode (the credential says who)."""
    return native.user_id_from(request, key="userId", field=USER_ID_FIELD)


class OriginalParticipationThrottle(ParticipationUserThrottle):
    """The native rate and count, for the same user: {"userId": 12345} counts as "12345"."""

    def allow_request(self, request, view):
        try:
            user_id = participant_of(request) or original_user_id(request)
        except ValidationError:
            user_id = None  # refused by the view; not counted, as a native body without a string id
        return self.allow(user_id)


@extend_schema(
    tags=[TAG], summary="Ask for a coupon (original contract)", request=ParticipationRequestSerializer,
    description="The native `POST /api/campaigns/{campaign_id}/participations` in the original's shape: "
                "`200` once the broker has acknowledged the request (the native `202`), `data` null, the "
                "request id in `message`. Same checks, rate and guarantees; userId 12345 is the native user "
                "\"12345\".",
    responses={200: answer("OriginalAccepted"), 400: BAD_BODY, 404: UNKNOWN_CAMPAIGN,
               401: refused("no participant token, or one that fails a rule: `detail` says which"),
               403: refused("userId is not the user the token proves (not_your_user_id)"),
               409: refused("the campaign is not open (CAMPAIGN_004) or sold out (CAMPAIGN_003)"),
               413: TOO_LARGE, 415: UNSUPPORTED,
               429: refused("this user sent more than FIRSTCOME_PARTICIPATION_RATE; see Retry-After"),
               503: refused("the broker did not acknowledge: nothing was queued, retry (KAFKA_001, Retry-After)")})
class ParticipationView(OriginalAPIView):
    """Mirrors campaigns.views.ParticipationCreateView's classes (campaigns.compat.ingest checks)."""

    authentication_classes = [ParticipantAuthentication]
    permission_classes = [IsParticipant]
    throttle_classes = [OriginalParticipationThrottle]

    def post(self, request, campaign_id):
        user_id = native.participation_user(request, key="userId", field=USER_ID_FIELD)
        request_id = services.participation_submit(campaign_id=campaign_id, user_id=user_id)
        return Response(envelope.success(accepted_message(request_id)))


def campaign_status(campaign) -> dict:
    """The original's status numbers, from the counters the decision keeps (no row is counted)."""
    counts = selectors.outcome_counters(campaign)
    success = counts[Participation.Status.SUCCESS]
    fail = counts[Participation.Status.SOLD_OUT] + counts[Participation.Status.DUPLICATE]
    used = campaign.total_stock - campaign.remaining_stock
    return {"campaignId": campaign.pk, "campaignName": campaign.name, "totalStock": campaign.total_stock,
            "currentStock": campaign.remaining_stock, "successCount": success, "failCount": fail,
            "totalParticipation": success + fail, "stockUsageRate": f"{used * 100 / campaign.total_stock:.2f}%"}


@extend_schema(tags=[TAG], summary="A campaign's stock and outcomes (original contract)",
               responses={200: answer("OriginalCampaignStatus", CampaignStatusSerializer()), 404: UNKNOWN_CAMPAIGN})
class CampaignStatusView(OriginalAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request, campaign_id):
        return Response(envelope.success(SUCCEEDED, campaign_status(selectors.campaign_get(campaign_id))))


class StaffOnlyView(OriginalAPIView):
    """Staff only, as the native admin API: the original's admin endpoints had no authentication,
    and the refusal says so."""

    permission_classes = [requires(GET=roles.VIEW_CAMPAIGNS, POST=roles.ADD_CAMPAIGN)]

    def permission_denied(self, request, message=None, code=None):
        try:
            super().permission_denied(request, message, code)
        except (NotAuthenticated, PermissionDenied) as exc:
            raise type(exc)(f"{exc.detail} Unlike the original, firstcome's admin endpoints need staff "
                            "credentials (HTTP Basic or the admin session).") from None


class AdminCampaignsView(StaffOnlyView):
    """Not routed on
    its own: admin_campaigns below hands it the requests in the original's shape; the OpenAPI
    document has the path's native operations (docs/api.md sets the two side by side)."""

    def get(self, request):
        return Response(envelope.success(SUCCEEDED, CampaignSerializer(selectors.campaign_list(), many=True).data))

    def post(self, request):
        serializer = CampaignCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_create(**serializer.validated_data)
        return Response(envelope.success(CREATED, CampaignSerializer(campaign).data))


_native_admin = native.AdminCampaignsView.as_view()
_original_admin = AdminCampaignsView.as_view()


def speaks_original(request) -> bool:
    """Both contracts name the admin list and create /api/admin/campaigns: a create naming
    totalStock and not total_stock is the original's, and a list asked with ?contract=original
    (nothing else in a GET tells the two clients apart)."""
    if request.method != "POST":
        return request.GET.get("contract") == "original"
    body = request.body
    if b"totalStock" not in body or may_be_too_deep(body):
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and "totalStock" in data and "total_stock" not in data


@csrf_exempt  # each view below checks CSRF itself for a session (DRF's SessionAuthentication)
def admin_campaigns(request):
    return (_original_admin if speaks_original(request) else _native_admin)(request)


@extend_schema(exclude=True)  # experiments, like the lab's own endpoint: not part of the API
class LabOnlyView(OriginalAPIView):
    """The original's synchronous baseline and bulk load helper, where the lab is not installed
    (production): they are experiments, served by lab.original_contract where it is."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request, **kwargs):
        raise NotServedHere(f"{request.path} is a load-test helper of the original, served only where "
                            "firstcome's lab is installed (local and test settings), never in production")

"""HTTP API. Views parse, call a service or a selector, and shape the answer."""
import threading
import time
import uuid
from contextlib import contextmanager

from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.fields import empty
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import answers, roles, selectors, services
from campaigns.participants import acting_user, may_see, reads_any_result
from campaigns.permissions import requires
from campaigns.exports import winners_csv
from campaigns.request_ids import is_issued_here
from campaigns.serializers import (
    USER_ID_FIELD,
    CampaignCreateSerializer,
    CampaignSerializer,
    CouponRedemptionSerializer,
    ParticipationResultSerializer,
)
from campaigns.throttles import ParticipationUserThrottle
from identity.drf import IsParticipant, IsParticipantOrStaff, ParticipantAuthentication, participant_of
from identity.participants import jwt_mode


class PublicAPIView(APIView):
    """Open endpoints: no session or CSRF work here."""

    authentication_classes = []
    permission_classes = [AllowAny]


# Participants prove who they are with a token (identity.drf); staff with their session or Basic.
PARTICIPANT_OR_STAFF = [ParticipantAuthentication, *APIView.authentication_classes]


class AdminCampaignsView(APIView):
    permission_classes = [requires(GET=roles.VIEW_CAMPAIGNS, POST=roles.ADD_CAMPAIGN)]

    def get(self, request):
        return Response(CampaignSerializer(selectors.campaign_list(), many=True).data)

    def post(self, request):
        serializer = CampaignCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_create(**serializer.validated_data)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailView(PublicAPIView):
    def get(self, request, campaign_id):
        return Response(CampaignSerializer(selectors.campaign_get(campaign_id)).data)


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """The API answers JSON whatever the Accept header says: no header parsing per request."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def user_id_from(request, *, key: str = "user_id", field=USER_ID_FIELD) -> str | None:
    """The body's user id under `key`, validated by the one shared field (ParticipationCreateSerializer
    describes the same body in the schema); 400 naming the key otherwise. In jwt mode the key may
    be absent (None): the credential says who the user is."""
    data = request.data
    value = data.get(key, empty) if isinstance(data, dict) else empty
    if value is empty and jwt_mode() and isinstance(data, dict):
        return None
    try:
        return field.run_validation(value)
    except ValidationError as exc:
        raise ValidationError({key: exc.detail}) from None


def participation_user(request, *, key: str = "user_id", field=USER_ID_FIELD) -> str:
    """Who a participation is for (campaigns.participants.acting_user): 400, 403 otherwise."""
    return acting_user(credential_user=participant_of(request), body_user=user_id_from(request, key=key, field=field))


class ParticipationCreateView(PublicAPIView):
    """The hot endpoint: thousands of requests a second. It validates with a shared field
    instead of a serializer per request and skips content negotiation; the rest is the service."""

    authentication_classes = [ParticipantAuthentication]
    permission_classes = [IsParticipant]
    content_negotiation_class = JSONOnlyNegotiation
    throttle_classes = [ParticipationUserThrottle]

    def post(self, request, campaign_id):
        request_id = services.participation_submit(campaign_id=campaign_id, user_id=participation_user(request))
        return Response({"request_id": str(request_id), "status": "PENDING"},
                        status=status.HTTP_202_ACCEPTED)


class _ViewWaiters:
    """The view's long polls in this process, at most settings.FIRSTCOME_VIEW_MAX_WAITERS: each
    sleeps on one of Django's threads. Past it, TooManyWaiters (503)."""

    def __init__(self, *, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self.count = 0

    @contextmanager
    def slot(self):
        with self._lock:
            if self.count >= self.limit:
                raise answers.TooManyWaiters(answers.TOO_MANY_WAITERS.message)  # a fresh one: a raised instance keeps its traceback
            self.count += 1
        try:
            yield
        finally:
            with self._lock:
                self.count -= 1


_view_waiters = _ViewWaiters(limit=settings.FIRSTCOME_VIEW_MAX_WAITERS)


class ParticipationResultView(APIView):
    """Also answered on the event loop (campaigns.answers) when the decision is in the web
    process's cache or arrives while the request waits; this view is the definition. A decided
    request is shown to its owner and staff only (campaigns.participants.may_see)."""

    authentication_classes = PARTICIPANT_OR_STAFF
    permission_classes = [IsParticipantOrStaff]

    # ?wait=S here reads the database at this interval: the fast path waits on the decision's
    # event instead, and hands its requests here only at the deadline.
    WAIT_POLL_S = 0.5

    def get(self, request, request_id):
        try:
            request_id = uuid.UUID(request_id)
        except ValueError:
            raise ValidationError({"request_id": "not a UUID"}) from None
        if not is_issued_here(request_id):
            raise NotFound(answers.NOT_ISSUED)
        wait = answers.wait_seconds(request.query_params.getlist("wait"))
        result = selectors.participation_get(request_id)
        if result is None and wait:
            with _view_waiters.slot():
                deadline = time.monotonic() + wait
                while result is None and time.monotonic() < deadline:
                    time.sleep(max(0, min(self.WAIT_POLL_S, deadline - time.monotonic())))
                    result = selectors.participation_get(request_id)
        if result is not None and not may_see(owner=result["user_id"], viewer=participant_of(request),
                                               staff=reads_any_result(request)):
            raise NotFound(answers.NOT_ISSUED)  # as an id never issued: nothing tells it exists
        if result is None:
            # Accepted by Kafka, not decided yet: the API stores nothing on the hot path, so
            # campaign and user are known only once the consumer has recorded the request.
            result = {"request_id": request_id, "campaign_id": None, "user_id": None,
                      "status": "PENDING"}
        return Response(ParticipationResultSerializer(result).data)


class UserDecisionView(APIView):
    """A user's decision: for that user and staff; anyone else is told there is none."""

    authentication_classes = PARTICIPANT_OR_STAFF
    permission_classes = [IsParticipantOrStaff]

    def get(self, request, campaign_id, user_id):
        selectors.campaign_get(campaign_id)
        visible = may_see(owner=user_id, viewer=participant_of(request), staff=reads_any_result(request))
        decision = selectors.user_decision_get(campaign_id, user_id) if visible else None
        if decision is None:
            raise NotFound(f"no decision yet for user {user_id!r} in campaign {campaign_id}")
        return Response(ParticipationResultSerializer(decision).data)


class CouponRedeemView(APIView):
    """The till's one endpoint (campaigns.roles.TILLS)."""

    permission_classes = [requires(POST=roles.REDEEM_COUPON)]

    def post(self, request, code):
        return Response(CouponRedemptionSerializer(services.coupon_redeem(typed_code=code)).data)


class WinnersCSVView(APIView):
    """Staff only; streamed, so the export of a million winners holds one page in memory.
    Errors are JSON like the rest of the API, whatever the Accept header asks for."""

    permission_classes = [requires(GET=roles.EXPORT_WINNERS)]
    content_negotiation_class = JSONOnlyNegotiation

    def get(self, request, campaign_id):
        campaign = selectors.campaign_get(campaign_id)
        response = StreamingHttpResponse(winners_csv(campaign_id=campaign.pk), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-winners.csv"'
        response["Cache-Control"] = "private, no-store"  # personal data: no copy in a shared cache
        return response

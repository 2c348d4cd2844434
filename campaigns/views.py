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
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import answers, selectors, services
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


class PublicAPIView(APIView):
    """Open endpoints: users are authenticated upstream, so no session or CSRF work here."""

    authentication_classes = []
    permission_classes = [AllowAny]


class AdminCampaignsView(APIView):
    permission_classes = [IsAdminUser]

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


def user_id_from(request, *, key: str = "user_id", field=USER_ID_FIELD) -> str:
    """The body's user id under `key`, validated by the one shared field (ParticipationCreateSerializer
    describes the same body in the schema); 400 naming the key otherwise."""
    data = request.data
    try:
        return field.run_validation(data.get(key, empty) if isinstance(data, dict) else empty)
    except ValidationError as exc:
        raise ValidationError({key: exc.detail}) from None


class ParticipationCreateView(PublicAPIView):
    """The hot endpoint: thousands of requests a second. It validates with a shared field
    instead of a serializer per request and skips content negotiation; the rest is the service."""

    permission_classes = []
    content_negotiation_class = JSONOnlyNegotiation
    throttle_classes = [ParticipationUserThrottle]

    def post(self, request, campaign_id):
        request_id = services.participation_submit(campaign_id=campaign_id, user_id=user_id_from(request))
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


class ParticipationResultView(PublicAPIView):
    """Also answered on the event loop (campaigns.answers) when the decision is in the web
    process's cache or arrives while the request waits; this view is the definition."""

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
        if result is None:
            # Accepted by Kafka, not decided yet: the API stores nothing on the hot path, so
            # campaign and user are known only once the consumer has recorded the request.
            result = {"request_id": request_id, "campaign_id": None, "user_id": None,
                      "status": "PENDING"}
        return Response(ParticipationResultSerializer(result).data)


class UserDecisionView(PublicAPIView):
    def get(self, request, campaign_id, user_id):
        selectors.campaign_get(campaign_id)
        decision = selectors.user_decision_get(campaign_id, user_id)
        if decision is None:
            raise NotFound(f"no decision yet for user {user_id!r} in campaign {campaign_id}")
        return Response(ParticipationResultSerializer(decision).data)


class CouponRedeemView(APIView):
    permission_classes = [IsAdminUser]

    def post(self, request, code):
        return Response(CouponRedemptionSerializer(services.coupon_redeem(typed_code=code)).data)


class WinnersCSVView(APIView):
    """Staff only; streamed, so the export of a million winners holds one page in memory.
    Errors are JSON like the rest of the API, whatever the Accept header asks for."""

    permission_classes = [IsAdminUser]
    content_negotiation_class = JSONOnlyNegotiation

    def get(self, request, campaign_id):
        campaign = selectors.campaign_get(campaign_id)
        response = StreamingHttpResponse(winners_csv(campaign_id=campaign.pk), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-winners.csv"'
        response["Cache-Control"] = "private, no-store"  # personal data: no copy in a shared cache
        return response

"""The original contract's two load-test helpers, served only where the lab is installed (local
and test settings; campaign_site/urls.py includes these ahead of campaigns.compat.urls, whose
stand-ins answer a 404 envelope elsewhere):

- POST /api/campaigns/{id}/participation-sync {"userId"}: the synchronous baseline, decided in the
  request with the conditional UPDATE (the lab's "atomic" strategy), no Kafka. Gated like the
  lab's own sync endpoint: FIRSTCOME_EXPERIMENT_ENDPOINTS and loopback clients only.
- POST /api/admin/test/participate-bulk {"count", "campaignId"} (staff): `count` participations of
  distinct synthetic integer users, published server-side on the API's producer, answered once
  the broker has acknowledged them all.
"""
import itertools
import os
import time

from django.conf import settings
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from campaigns import selectors
from campaigns.compat import envelope
from campaigns.compat.serializers import BulkParticipateSerializer
from campaigns.compat.views import OriginalAPIView, StaffOnlyView, original_user_id
from campaigns.errors import BrokerUnavailable, ExperimentsDisabled, LoopbackOnly
from campaigns.submission import check_window
from lab import services
from lab.publishing import publish_participations
from lab.views import from_loopback
from streaming.producer import PublishError

# Like the original's, distinct ids from a counter started at the clock's milliseconds, with the
# process id above them (pid × 2^40: 35 years of milliseconds below it; Linux pids stay under
# 2^22, so ids stay under 2^62): two calls of one process, or of two web workers, never repeat a user.
_synthetic_users = itertools.count((os.getpid() << 40) + int(time.time() * 1000) % (1 << 40))


@extend_schema(exclude=True)  # an experiment, as the lab's own sync endpoint
class ParticipationSyncView(OriginalAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request, campaign_id):
        if not settings.FIRSTCOME_EXPERIMENT_ENDPOINTS:
            raise ExperimentsDisabled("the synchronous baseline is off; FIRSTCOME_EXPERIMENT_ENDPOINTS=1 "
                                      "turns it on (never in production)")
        if not from_loopback(request):
            raise LoopbackOnly("the synchronous baseline answers clients on this machine only")
        decision = services.participation_decide_sync(campaign_id=campaign_id, user_id=original_user_id(request),
                                                      strategy="atomic")
        return Response(envelope.success("참여 처리 완료 (동기 방식)", {"status": decision.status, "method": "SYNC"}))


@extend_schema(exclude=True)  # a load-test helper of the lab
class BulkParticipateView(StaffOnlyView):

    def post(self, request):
        serializer = BulkParticipateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign_id, count = serializer.validated_data["campaignId"], serializer.validated_data["count"]
        check_window(selectors.campaign_window(campaign_id), timezone.now())
        users = [str(next(_synthetic_users)) for _ in range(count)]
        try:
            published = publish_participations(topic=settings.FIRSTCOME_TOPIC, key_by=settings.FIRSTCOME_MESSAGE_KEY,
                                               requests=((campaign_id, user) for user in users))
        except PublishError as exc:
            raise BrokerUnavailable("the burst could not be queued whole; retry (part of it may be decided)") from exc
        return Response(envelope.success(f"{count:,}건의 참여 요청 시뮬레이션을 시작했습니다.", {
            "campaignId": campaign_id, "requestCount": len(published),
            "status": "published: acknowledged by the broker, decided by the consumer"}))


urlpatterns = [
    path("campaigns/<int:campaign_id>/participation-sync", ParticipationSyncView.as_view(),
         name="original-participation-sync"),
    path("admin/test/participate-bulk", BulkParticipateView.as_view(), name="original-participate-bulk"),
]

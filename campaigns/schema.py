"""OpenAPI description of the HTTP API (drf-spectacular), served at /api/schema/.

The views are plain APIViews, so request bodies, answers and error statuses are declared here
and attached to them when the app loads (CampaignsConfig.ready), keeping the views themselves
to parsing and calling services. Other apps' API views describe themselves next to the view,
with the error shapes below (monitoring.views). The fuzz tests (schemathesis) hold the API to
this document: every status it answers must be listed, every body must match.
"""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field,
                                   extend_schema_view, inline_serializer)
from rest_framework import serializers

from campaigns import views
from campaigns.answers import MAX_WAIT_S
from campaigns.models import Campaign
from campaigns.serializers import (CampaignCreateSerializer, CampaignSerializer, CouponRedemptionSerializer,
                                   ParticipationCreateSerializer, ParticipationResultSerializer)


class ErrorSerializer(serializers.Serializer):
    """Every error answer: campaign_site.exceptions and the request-size limit."""
    detail = serializers.CharField()
    code = serializers.CharField(required=False)
    errors = serializers.DictField(required=False, help_text="400: what is wrong with each field")


def error(description):
    return OpenApiResponse(ErrorSerializer, description=description)


BAD_BODY = error("invalid body: `errors` names each field")
TOO_LARGE = error("body larger than DATA_UPLOAD_MAX_MEMORY_SIZE")
UNSUPPORTED = error("body not sent as application/json")
STAFF_ONLY = {401: error("not authenticated (HTTP Basic or the admin session)"),
              403: error("authenticated but not staff, or a session write without its CSRF token"),
              429: error("too many failed sign-ins from this client, for this user name or on this "
                         "process: no password is checked until Retry-After")}

# A participant's token (identity/): refused with the reason; a body naming another user.
UNAUTHENTICATED = error("no participant token, or one that fails a rule (expired, not yet valid, another issuer "
                        "or audience, an unknown key, a bad signature, an unaccepted algorithm): `detail` says which")
PARTICIPANT = {401: UNAUTHENTICATED}
NOT_YOUR_USER_ID = error("`code` `not_your_user_id`: the body names another user than the token proves")

ALREADY_REDEEMED = OpenApiResponse(inline_serializer("CouponAlreadyRedeemed", {
    "detail": serializers.CharField(), "code": serializers.CharField(), "redeemed_at": serializers.DateTimeField(),
}), description="the coupon was redeemed before (or by a concurrent request): `redeemed_at` says when")

PARTICIPATION_ACCEPTED = inline_serializer("ParticipationAccepted", {
    "request_id": serializers.UUIDField(),
    "status": serializers.ChoiceField(choices=["PENDING"]),
})


def describe():
    extend_schema_field(serializers.ChoiceField(choices=Campaign.Status.choices))(CampaignSerializer.get_status)
    extend_schema_view(
        get=extend_schema(summary="List campaigns (staff)", responses={200: CampaignSerializer(many=True), **STAFF_ONLY}),
        post=extend_schema(summary="Create a campaign (staff)", request=CampaignCreateSerializer,
                           responses={201: CampaignSerializer, 400: BAD_BODY, 413: TOO_LARGE, 415: UNSUPPORTED,
                                      **STAFF_ONLY}),
    )(views.AdminCampaignsView)
    extend_schema_view(
        get=extend_schema(summary="A campaign and its remaining stock",
                          responses={200: CampaignSerializer, 404: error("no such campaign")}),
    )(views.CampaignDetailView)
    extend_schema_view(
        post=extend_schema(
            summary="Ask for a coupon",
            description="The user is the participant token's (`Authorization: Bearer`); `user_id` may be left out, "
                        "and if sent must be that user. `202` once the broker has acknowledged the request; the consumer decides it later. "
                        "Poll `GET /api/participations/{request_id}` for the outcome (`?wait=S` waits for it).\n\n"
                        "Once the campaign's stock is gone (it never comes back) a request is answered `409` with "
                        "`code` `sold_out` at once: it was not queued and has no request id. A request accepted "
                        "earlier keeps its own outcome.",
            request=ParticipationCreateSerializer,
            responses={202: PARTICIPATION_ACCEPTED, 400: BAD_BODY, **PARTICIPANT, 403: NOT_YOUR_USER_ID,
                       404: error("no such campaign"),
                       409: error("`code` `campaign_not_open`: not started yet, or closed; `code` `sold_out`: no "
                                  "stock left, nothing was queued"),
                       413: TOO_LARGE, 415: UNSUPPORTED,
                       429: error("this user sent more than FIRSTCOME_PARTICIPATION_RATE; see Retry-After"),
                       503: error("the broker did not acknowledge: nothing was queued, retry (Retry-After)")}),
    )(views.ParticipationCreateView)
    extend_schema_view(
        get=extend_schema(summary="The outcome of a request (PENDING until decided)",
                          parameters=[OpenApiParameter("request_id", str, OpenApiParameter.PATH, description="a UUID"),
                                      OpenApiParameter(
                                          "wait", str, OpenApiParameter.QUERY, required=False, pattern=r"^[0-9]{1,2}(\.[0-9]{1,3})?$",
                                          description=f"long poll: answer as soon as the request is decided, or "
                                                      f"`PENDING` after this many seconds (more than 0, at most "
                                                      f"{MAX_WAIT_S}, up to three decimals)")],
                          responses={200: ParticipationResultSerializer,
                                     400: error("not a UUID, or `wait` out of range or given twice"),
                                     **PARTICIPANT,
                                     404: error("no request with this id was ever accepted here, or it is another "
                                                "user's (answered alike)"),
                                     503: error("`code` `too_many_waiters`: this server holds as many long polls as "
                                                "it takes; retry (Retry-After)")}),
    )(views.ParticipationResultView)
    extend_schema_view(
        get=extend_schema(summary="A user's decision for a campaign",
                          responses={200: ParticipationResultSerializer,
                                     **PARTICIPANT,
                                     404: error("no such campaign, or no decision for the user yet, or the user is "
                                                "not the token's (answered alike)")}),
    )(views.UserDecisionView)
    extend_schema_view(
        post=extend_schema(
            summary="Redeem a winner's coupon (staff)",
            description="Marks the coupon used, exactly once. The code is read as Crockford base32: case does "
                        "not matter, O reads as 0, I and L as 1, hyphens are ignored.",
            request=None,
            parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH,
                                         description="the 16-character coupon code, its last character a check")],
            responses={200: CouponRedemptionSerializer,
                       400: error("not a coupon code: a character outside the alphabet, the wrong length, or a "
                                  "check character that does not match (a typo); nothing was looked up"),
                       404: error("no winner holds this code"), 409: ALREADY_REDEEMED, **STAFF_ONLY}),
    )(views.CouponRedeemView)
    extend_schema_view(
        get=extend_schema(
            summary="A campaign's winners as CSV (staff)", operation_id="api_admin_campaigns_winners_csv",
            description="Streamed, one row per SUCCESS in decision order: `user_id,request_id,coupon_code,decided_at` "
                        "(UTF-8, header row first). A value starting with `=`, `+`, `-` or `@` (a formula in a "
                        "spreadsheet), or with `'`, is written with a leading `'`: drop one leading `'` to read any cell back.",
            responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="the CSV file"),
                       404: error("no such campaign"), **STAFF_ONLY}),
    )(views.WinnersCSVView)

"""The OpenAPI description of /api/admin/campaigns, which both contracts share (the original's
requests are told apart by their shape: campaigns.compat.views.speaks_original). The native
description (campaigns.schema) is extended with the original's body and answers as alternatives,
so a client of either contract finds its own in the document."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema,
                                   extend_schema_view)
from rest_framework import serializers

from campaigns import schema as native_schema
from campaigns import serializers as native
from campaigns import views as native_views
from campaigns.compat import serializers as original
from campaigns.compat.views import TAG, answer


class OriginalCampaignCreateRequest(serializers.Serializer):
    """The original's create body as this path routes it: a body naming total_stock is native."""
    name = serializers.CharField(help_text="1 to 200 characters")
    totalStock = serializers.IntegerField(min_value=1, max_value=native.MAX_TOTAL_STOCK)


def describe() -> None:
    either = "Both contracts share this path: "
    extend_schema_view(
        get=extend_schema(
            summary="List campaigns (staff; either contract)",
            description=either + "`?contract=original` answers the original's envelope, `data` the list.",
            parameters=[OpenApiParameter("contract", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                                         enum=["original"], description="`original`: the original's answer")],
            responses={200: PolymorphicProxySerializer(
                component_name="CampaignListEitherContract", resource_type_field_name=None, many=False, serializers=[
                    native.CampaignSerializer(many=True),
                    answer("OriginalCampaignList", original.CampaignSerializer(many=True))]),
                **native_schema.STAFF_ONLY}),
        post=extend_schema(
            summary="Create a campaign (staff; either contract)",
            description=either + "a body naming `totalStock` and not `total_stock` is the original's, answered "
                                 "`200` in its envelope; the native body (`total_stock`) is answered `201`.",
            request=PolymorphicProxySerializer(
                component_name="CampaignCreateEitherContract", resource_type_field_name=None,
                serializers=[native.CampaignCreateSerializer, OriginalCampaignCreateRequest]),
            responses={201: native.CampaignSerializer,
                       200: answer("OriginalCampaignCreated", original.CampaignSerializer()),
                       400: OpenApiResponse(native_schema.ErrorSerializer, description=(
                           "invalid body: `errors` names each field; the original's body is refused in its "
                           "envelope (OriginalError), which carries the same `detail`, `code` and `errors`")),
                       413: native_schema.TOO_LARGE, 415: native_schema.UNSUPPORTED, **native_schema.STAFF_ONLY},
            tags=["campaigns", TAG]),
    )(native_views.AdminCampaignsView)

"""The original contract's bodies. Input is validated by firstcome's rules; only the names and
the user id's type differ."""
import re

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from campaigns import serializers as native
from campaigns.serializers import MAX_TOTAL_STOCK

MAX_USER_ID = 2**63 - 1  # the original's userId is a Java long; negative ids are refused
CANONICAL_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


@extend_schema_field({"oneOf": [{"type": "integer", "minimum": 0, "maximum": MAX_USER_ID},
                             {"type": "string", "pattern": "^(0|[1-9][0-9]{0,18})$"}]})
class OriginalUserIdField(serializers.Field):
    """The original's integer userId, as firstcome's user id: its decimal string, so
    {"userId": 12345} here and {"user_id": "12345"} on the native API are one user. A string of
    the same digits is taken too (what a JavaScript client sends for an id past 2^53), but only in
    that one spelling: "012345" or " 12345" would be another native user, so they are refused.
    Booleans, floats and numbers outside 0..2^63-1 are refused (the original's JSON reader would
    have truncated a float)."""

    default_error_messages = {
        "invalid": "must be a whole number from 0 to 2^63-1, as a JSON integer or its decimal string",
    }

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            if 0 <= data <= MAX_USER_ID:
                return str(data)
        elif isinstance(data, str) and CANONICAL_DECIMAL.fullmatch(data) and int(data) <= MAX_USER_ID:
            return data
        self.fail("invalid")

    def to_representation(self, value):
        return int(value)


# One instance for the view and the fast path, as campaigns.serializers.USER_ID_FIELD.
USER_ID_FIELD = OriginalUserIdField()


class ParticipationRequestSerializer(serializers.Serializer):
    """What the schema shows; the view and the fast path validate with USER_ID_FIELD."""
    userId = OriginalUserIdField(help_text="0 to 2^63-1; a string of its digits (no sign, no leading zero) "
                                           "is the same user; the native user_id is this decimal string")


class CampaignCreateSerializer(serializers.Serializer):
    """{"name", "totalStock"}; `total_stock` is taken too. Validated by the native serializer."""
    name = serializers.CharField(help_text="1 to 200 characters")
    totalStock = serializers.IntegerField(min_value=1, max_value=MAX_TOTAL_STOCK, required=False,
                                          help_text="required unless total_stock is sent")
    total_stock = serializers.IntegerField(min_value=1, max_value=MAX_TOTAL_STOCK, required=False)

    def to_internal_value(self, data):
        camel = isinstance(data, dict) and "total_stock" not in data
        checked = native.CampaignCreateSerializer(data={**data, "total_stock": data["totalStock"]}
                                                  if camel and "totalStock" in data else data)
        if not checked.is_valid():
            errors = dict(checked.errors)
            if camel and "total_stock" in errors:
                errors["totalStock"] = errors.pop("total_stock")  # named as the client names it
            raise serializers.ValidationError(errors)
        return checked.validated_data


@extend_schema_serializer(component_name="OriginalCampaign")
class CampaignSerializer(serializers.Serializer):
    """The original's CampaignResponse. `status` is firstcome's: SCHEDULED, OPEN, SOLD_OUT or
    CLOSED (the original had OPEN and CLOSED)."""
    id = serializers.IntegerField()
    name = serializers.CharField()
    totalStock = serializers.IntegerField(source="total_stock")
    currentStock = serializers.IntegerField(source="remaining_stock")
    status = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    def get_status(self, campaign) -> str:
        return campaign.status_at(timezone.now())


class CampaignStatusSerializer(serializers.Serializer):
    campaignId = serializers.IntegerField()
    campaignName = serializers.CharField()
    totalStock = serializers.IntegerField()
    currentStock = serializers.IntegerField()
    successCount = serializers.IntegerField()
    failCount = serializers.IntegerField(help_text="decided without a coupon: SOLD_OUT and DUPLICATE")
    totalParticipation = serializers.IntegerField(help_text="decided requests: successCount + failCount")
    stockUsageRate = serializers.CharField(help_text='e.g. "12.34%"')


class BulkParticipateSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=100_000)
    campaignId = serializers.IntegerField(min_value=1)


class BulkParticipateAnswerSerializer(serializers.Serializer):
    campaignId = serializers.IntegerField()
    requestCount = serializers.IntegerField()
    status = serializers.CharField()

"""Input validation and output shapes of the HTTP API. No business rules here."""
from django.utils import timezone
from rest_framework import serializers

from campaigns.messages import MAX_USER_ID_LENGTH
from campaigns.models import Campaign

MAX_TOTAL_STOCK = 1_000_000_000


class StringField(serializers.CharField):
    """A JSON string, taken as sent. CharField turns numbers into strings, which would hide a
    client bug (a 64-bit numeric id sent as a JSON number loses digits in JavaScript, and two users
    collide), and trims whitespace, which made "alice " the user "alice" and let a 201-character
    name through max_length=200."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CampaignCreateSerializer(serializers.Serializer):
    name = StringField(max_length=200)
    total_stock = serializers.IntegerField(min_value=1, max_value=MAX_TOTAL_STOCK)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, data):
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            raise serializers.ValidationError({"ends_at": "must be later than starts_at"})
        return data


class CampaignSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "total_stock", "remaining_stock", "starts_at", "ends_at", "status"]
        # Output only: campaigns are created by CampaignCreateSerializer + campaign_create, and
        # stock moves only through the decision, so nothing here can be written back.
        read_only_fields = fields

    def get_status(self, campaign):
        return campaign.status_at(timezone.now())


def validate_user_id(value):
    """User ids are kept as sent and compared byte for byte (campaigns/identity.py). isprintable()
    refuses control (NUL, tab, newline), format (zero-width, direction marks), separator (the plain
    space excepted), private-use, surrogate and unassigned characters: they break log lines and
    terminals, and most cannot be seen in the id a support person reads back."""
    if not value.isprintable():
        position, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
        raise serializers.ValidationError(
            "must not contain control, format, separator (other than the space), private-use or "
            f"unassigned characters: U+{ord(char):04X} at position {position}")
    return value


# The participation endpoint validates with this one field instance instead of building a
# serializer per request (DRF deep-copies every field of a serializer on each instantiation,
# which cost more than the rest of the request); the serializer below is what the schema shows.
USER_ID_FIELD = StringField(min_length=1, max_length=MAX_USER_ID_LENGTH, validators=[validate_user_id])


class ParticipationCreateSerializer(serializers.Serializer):
    # The user id is trusted: an upstream gateway authenticates users and passes it on.
    user_id = USER_ID_FIELD


class _ParticipationSerializer(serializers.Serializer):
    """Whose request it was: the fields every answer about one participation starts with."""
    request_id = serializers.UUIDField()
    campaign_id = serializers.IntegerField(allow_null=True)
    user_id = serializers.CharField(allow_null=True)


class ParticipationResultSerializer(_ParticipationSerializer):
    status = serializers.CharField()
    # default: a result without the key (PENDING) says null rather than failing.
    coupon_code = serializers.CharField(allow_null=True, default=None,
                                        help_text="a SUCCESS's coupon code (16 characters); null otherwise")


class CouponRedemptionSerializer(_ParticipationSerializer):
    """A redeemed coupon: always a winner's, so nothing here is null."""
    campaign_id = serializers.IntegerField()
    user_id = serializers.CharField()
    coupon_code = serializers.CharField()
    redeemed_at = serializers.DateTimeField()

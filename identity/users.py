"""What a user id is, wherever one comes from (a token's claim, a body, a message): 1 to 64
characters, every one printable (campaigns.serializers.validate_user_id says which are not and
why), kept as sent and compared byte for byte (campaigns/identity.py)."""

MAX_USER_ID_LENGTH = 64


def is_user_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_USER_ID_LENGTH and value.isprintable()

"""Times as epoch microseconds (UTC): the form the participation message, the broker's timestamp,
the participation row's fast writers and the decision event carry, exact both ways."""
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
# The moments a message may carry (a request's receipt, the broker's timestamp, a decision event's
# times): after the epoch, before the year 3000 (the campaigns' own bound, Campaign.LATEST_TIME).
# Each fits MySQL's DATETIME and shows as ISO 8601 in any time zone (9999-12-31 overflows once
# shifted east of UTC). The decider and the statistics hold messages to this one range, so what
# the decider decides and publishes, the statistics store.
LATEST_US = (datetime(3000, 1, 1, tzinfo=timezone.utc) - EPOCH) // _MICROSECOND


def is_moment_us(value) -> bool:
    """An int of epoch microseconds within the moments a message may carry."""
    return type(value) is int and 0 < value < LATEST_US


def to_epoch_us(moment: datetime) -> int:
    """An aware datetime's microseconds since the epoch, exactly (through a float of seconds, the
    microseconds are lost after the year 2255)."""
    return (moment - EPOCH) // _MICROSECOND


def from_epoch_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)

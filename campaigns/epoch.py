"""Times as epoch microseconds (UTC): the form the participation message, the broker's timestamp,
the participation row's fast writers and the decision event carry, exact both ways."""
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
# The last microsecond a datetime (and MySQL's DATETIME) can hold, and MySQL's first.
MAX_EPOCH_US = (datetime.max.replace(tzinfo=timezone.utc) - EPOCH) // _MICROSECOND
MIN_STORED_US = (datetime(1000, 1, 1, tzinfo=timezone.utc) - EPOCH) // _MICROSECOND


def to_epoch_us(moment: datetime) -> int:
    """An aware datetime's microseconds since the epoch, exactly (through a float of seconds, the
    microseconds are lost after the year 2255)."""
    return (moment - EPOCH) // _MICROSECOND


def from_epoch_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)

"""A campaign's winners as CSV, streamed: a million rows leave in constant memory.

The rows are read by keyset pagination on the primary key (`id > last ORDER BY id LIMIT n`, a
range of the (campaign, status) index, whose entries carry the id): MySQL's client library holds
a whole result set in memory, so one query iterated in chunks would not bound anything. Each page
is written as one block of CSV and the next page is read only when the client has taken it.

Operators open the file in spreadsheets, where a cell starting with = + - @ (or a tab or carriage
return) is a formula: such values get a leading apostrophe. User ids come from the public
endpoint, so they are hostile input.
"""
import csv
import io
from collections.abc import Iterator

from django.utils import timezone

from campaigns.models import Participation

WINNER_COLUMNS = ("user_id", "request_id", "coupon_code", "decided_at")
PAGE_SIZE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A value already starting with the apostrophe gets one too: one rule reads every cell back
# (drop one leading apostrophe), so "=x" and "'=x" never export as the same cell.
QUOTED_STARTS = (*FORMULA_STARTS, "'")


def spreadsheet_safe(value: str) -> str:
    """The value a spreadsheet shows as text: a would-be formula (or a value starting with an
    apostrophe) gets a leading apostrophe."""
    return "'" + value if value.startswith(QUOTED_STARTS) else value


def winner_pages(*, campaign_id: int, page_size: int | None = None) -> Iterator[list[tuple]]:
    """The campaign's SUCCESS rows as (id, user_id, request_id, coupon_code, decided_at), in id
    order, one query of at most page_size (PAGE_SIZE) rows per page."""
    page_size = page_size or PAGE_SIZE
    winners = (Participation.objects
               .filter(campaign_id=campaign_id, status=Participation.Status.SUCCESS)
               .order_by("id").values_list("id", *WINNER_COLUMNS))
    last_id = 0
    while page := list(winners.filter(id__gt=last_id)[:page_size]):
        yield page
        last_id = page[-1][0]


def winners_csv(*, campaign_id: int, page_size: int | None = None) -> Iterator[bytes]:
    """The CSV (UTF-8, header first, CRLF line ends) in blocks of one page each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        block = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return block

    writer.writerow(WINNER_COLUMNS)
    yield flush()
    zone = timezone.get_current_timezone()  # times in TIME_ZONE, as the API writes them
    for page in winner_pages(campaign_id=campaign_id, page_size=page_size):
        writer.writerows(
            (spreadsheet_safe(user_id), str(request_id), spreadsheet_safe(coupon_code or ""),
             decided_at.astimezone(zone).isoformat())
            for _, user_id, request_id, coupon_code, decided_at in page)
        yield flush()

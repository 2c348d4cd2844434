"""The winners' CSV: GET /api/admin/campaigns/{id}/winners.csv, staff only, streamed in pages, with
would-be spreadsheet formulas neutralised."""
import csv
import io

import psutil
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import exports, services
from campaigns.models import Participation
from testsupport.factories import CampaignFactory, participation_request

pytestmark = pytest.mark.django_db


def winners_url(campaign_id):
    return f"/api/admin/campaigns/{campaign_id}/winners.csv"


def decide(campaign, users):
    return services.participations_decide_batch(
        [participation_request(campaign, user, offset=i) for i, user in enumerate(users)])


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_export_of_a_small_campaign_is_exactly_its_winners_in_decision_order(admin_client):
    campaign = CampaignFactory(total_stock=3)
    decide(campaign, ["alice", "=HYPERLINK(\"http://x\")", "alice", "bob, \"the\" builder", "carol"])
    other = CampaignFactory()
    decide(other, ["dave"])  # another campaign's winner is not in this export

    response = admin_client.get(winners_url(campaign.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{campaign.pk}-winners.csv"'
    assert response["Cache-Control"] == "private, no-store"
    rows = {row.user_id: row for row in Participation.objects.filter(campaign=campaign, status="SUCCESS")}
    assert set(rows) == {"alice", "=HYPERLINK(\"http://x\")", "bob, \"the\" builder"}  # carol: sold out

    def line(user_id, written):
        row = rows[user_id]
        return f"{written},{row.request_id},{row.coupon_code},{timezone.localtime(row.decided_at).isoformat()}\r\n"

    assert body(response).decode() == (
        "user_id,request_id,coupon_code,decided_at\r\n"
        + line("alice", "alice")
        + line("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\"")
        + line("bob, \"the\" builder", "\"bob, \"\"the\"\" builder\""))


def test_a_campaign_without_winners_exports_the_header_only(admin_client):
    campaign = CampaignFactory()
    assert body(admin_client.get(winners_url(campaign.pk))) == b"user_id,request_id,coupon_code,decided_at\r\n"


PRINTABLE_USER_IDS = st.text(st.characters(codec="utf-8").filter(str.isprintable), min_size=1, max_size=64)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user_ids=st.lists(st.one_of(PRINTABLE_USER_IDS,
                                   st.tuples(st.sampled_from(["=", "+", "-", "@", "'", "'=", "''"]),
                                             PRINTABLE_USER_IDS).map("".join)),
                         min_size=1, max_size=8, unique=True))
def test_no_exported_cell_can_start_a_formula_and_each_reads_back_as_the_user_id(admin_client, user_ids):
    campaign = CampaignFactory(total_stock=len(user_ids))
    decide(campaign, user_ids)

    cells = [row[0] for row in csv.reader(io.StringIO(body(admin_client.get(winners_url(campaign.pk))).decode(),
                                                      newline=""))][1:]

    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
    read_back = [cell[1:] if cell.startswith("'") else cell for cell in cells]  # one rule for every cell
    assert read_back == user_ids


def test_a_formula_and_the_same_formula_already_quoted_export_as_different_cells(admin_client):
    campaign = CampaignFactory(total_stock=3)
    decide(campaign, ["=x", "'=x", "'plain"])
    rows = list(csv.reader(io.StringIO(body(admin_client.get(winners_url(campaign.pk))).decode(), newline="")))
    assert [row[0] for row in rows[1:]] == ["'=x", "''=x", "''plain"]


def test_unknown_campaign_is_404_json(admin_client):
    response = admin_client.get(winners_url(987654321), HTTP_ACCEPT="text/csv")
    assert response.status_code == 404
    assert response.json()["code"] == "campaign_not_found"


def test_non_staff_and_anonymous_get_403_like_the_other_admin_endpoints(client):
    campaign = CampaignFactory()
    decide(campaign, ["alice"])
    assert client.get(winners_url(campaign.pk)).status_code == client.get("/api/admin/campaigns").status_code == 403

    User.objects.create_user("clerk", password="clerk-pass", is_staff=False)
    client.login(username="clerk", password="clerk-pass")
    response = client.get(winners_url(campaign.pk))
    assert response.status_code == 403
    assert "alice" not in response.content.decode()


def insert_winners(campaign, count):
    """count SUCCESS rows in one INSERT … SELECT over MariaDB's sequence engine."""
    table = connection.ops.quote_name(Participation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (request_id, campaign_id, user_id, status, is_decision, topic, `partition`, "
            "`offset`, broker_timestamp, received_at, decided_at, coupon_code) "
            "SELECT REPLACE(UUID(), '-', ''), %s, CONCAT('user-', seq), 'SUCCESS', 1, 't', 0, seq, "
            f"NOW(6), NOW(6), NOW(6), LPAD(seq, 16, '0') FROM seq_1_to_{int(count)}", [campaign.pk])


@pytest.mark.skipif(connection.vendor != "mysql", reason="bulk insert through MariaDB's sequence engine")
def test_two_hundred_thousand_winners_stream_page_by_page_in_constant_memory(admin_client, monkeypatch):
    # Small pages, so that one page is far below what holding the rows or the file would take.
    monkeypatch.setattr(exports, "PAGE_SIZE", 1000)
    campaign = CampaignFactory(total_stock=200_000, remaining_stock=0)
    insert_winners(campaign, 200_000)
    process = psutil.Process()

    with CaptureQueriesContext(connection) as queries:
        before = peak = process.memory_info().rss
        lines = size = 0
        for block in admin_client.get(winners_url(campaign.pk)).streaming_content:
            lines += block.count(b"\n")
            size += len(block)
            peak = max(peak, process.memory_info().rss)

    assert lines == 200_001
    pages = [q["sql"] for q in queries if q["sql"].endswith("LIMIT 1000")]
    assert len(pages) == 200 + 1  # the last one finds nothing
    assert peak - before < size / 4, (peak - before, size)

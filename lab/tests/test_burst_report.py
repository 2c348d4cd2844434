"""manage.py burst_report end to end: its own gunicorn and consumer, k6 in every mode, and a
report whose numbers are the database's."""
import csv
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from campaigns import selectors
from campaigns.models import Campaign

BASE_DIR = settings.BASE_DIR


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_report_on_stock_10_and_30_users_equals_the_database(child_env, tmp_path):
    out = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "manage.py", "burst_report", "--stock", "10", "--users", "30", "--out", str(out)],
        cwd=BASE_DIR, env=child_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr

    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [row["mode"] for row in rows] == ["kafka", "naive", "atomic", "locked"]
    for row in rows:
        campaign = Campaign.objects.get(pk=row["campaign_id"])
        outcomes = selectors.outcome_counts(campaign.pk)
        decrement = campaign.total_stock - campaign.remaining_stock
        first, last = selectors.decision_window(campaign.pk)
        accepted, refused = int(row["http_2xx"]), int(row["http_4xx"])
        assert (int(row["requests"]), accepted + refused, int(row["http_5xx"])) == (30, 30, 0)
        # Only Kafka's path refuses at the door (409 sold_out), and only once the stock is gone: on
        # a slow machine the consumer can sell the 10 coupons before the burst's last requests.
        assert refused == 0 or (row["mode"] == "kafka" and decrement == 10), row
        assert sum(outcomes.values()) == accepted, row["mode"]  # every request accepted is decided
        assert (int(row["issued"]), int(row["sold_out"]), int(row["duplicates"])) == \
            (outcomes["SUCCESS"], outcomes["SOLD_OUT"], outcomes["DUPLICATE"])
        assert int(row["stock_decrement"]) == decrement
        assert int(row["oversold"]) == max(0, outcomes["SUCCESS"] - 10)
        assert int(row["lost_updates"]) == outcomes["SUCCESS"] - decrement
        assert int(row["users_with_several_coupons"]) == selectors.users_with_several_coupons(campaign.pk) == 0
        assert float(row["last_decision_s"]) == pytest.approx((last - first).total_seconds())
        assert 0 < float(row["p50_ms"]) <= float(row["p95_ms"]) <= float(row["p99_ms"])
        assert float(row["requests_per_s"]) > 0
        if row["mode"] != "naive":  # naive may or may not lose updates at this size
            assert (outcomes["SUCCESS"], decrement, row["verdict"]) == (10, 10, "correct")

    markdown = (out / "report.md").read_text()
    assert "| kafka | 30 | 30 | 0 | 0 | 10 | 10 | 0 | 0 | 0 |" in markdown
    assert markdown in run.stdout
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in out.glob("k6-*.json")} == {f"k6-{m}.json" for m in ("kafka", "naive", "atomic", "locked")}


@pytest.mark.parametrize("args, message", [
    (["--modes", "kafka,optimistic"], "unknown mode(s) 'optimistic'"),
    (["--modes", "kafka,kafka"], "listed twice"),
    (["--stock", "0"], "must be positive"),
    (["--users", "10", "--vus", "11"], "vus must be between 1 and the number of requests (10)"),
    (["--base-url", "localhost:8000"], "--base-url must be an http(s) URL"),
    (["--web-threads", "0"], "--web-threads must be at least 1"),
])
def test_bad_arguments_are_refused_before_anything_starts(args, message, tmp_path):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("burst_report", *args, "--out", str(tmp_path))
    assert not any(tmp_path.iterdir())

"""The experiment command end to end, small: 2,000 events on 1 and 3 partitions."""
import csv
import math

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Campaign, Participation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_experiment_on_1_and_3_partitions_writes_its_reports(kafka_broker, tmp_path, capsys):
    call_command("partition_experiment", "--partitions", "1,3", "--events", "2000", "--output", str(tmp_path))

    with open(tmp_path / "partition-experiment-key-user.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["partition_count"]) for r in rows] == [1, 3]
    for row, campaign in zip(rows, Campaign.objects.order_by("pk")):
        assert int(row["total_events"]) == 2000 == Participation.objects.filter(campaign=campaign).count()
        issued = campaign.total_stock - campaign.remaining_stock
        assert int(row["success"]) == issued == 200  # stock: a tenth of the events
        assert int(row["success"]) + int(row["sold_out"]) + int(row["duplicate"]) == 2000
        assert int(row["violation_count"]) == 0  # keyed by user: a user's requests share a partition
        assert float(row["kafka_tps"]) > 0
        # decisions/s is measured between commits: undefined (nan) when one transaction took all.
        commits = Participation.objects.filter(campaign=campaign).values("decided_at").distinct().count()
        assert float(row["processing_tps"]) > 0 if commits > 1 else math.isnan(float(row["processing_tps"]))
    assert float(rows[0]["switch_ratio"]) == 0  # one partition never switches
    assert float(rows[1]["switch_ratio"]) > 0  # three partitions interleave
    for name in ("partition-experiment-key-user.md", "partition-experiment-key-user-tps.png",
                 "partition-experiment-key-user-cpu.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "decisions/s" in capsys.readouterr().out


def test_campaign_key_with_several_campaigns_keeps_each_campaign_fair(kafka_broker, tmp_path):
    call_command("partition_experiment", "--partitions", "3", "--events", "1500", "--campaigns", "3",
                 "--key", "campaign", "--output", str(tmp_path))
    with open(tmp_path / "partition-experiment-key-campaign-3-campaigns.csv") as f:
        [row] = list(csv.DictReader(f))
    assert int(row["total_events"]) == 1500 == Participation.objects.count()
    assert int(row["success"]) == 3 * 50  # a tenth of each campaign's 500 requests
    # Each campaign sits in one partition and is decided in its order there; what unfairness is
    # left comes from concurrent clients' timestamps racing their sends by a few ms, not from
    # partitions interleaving.
    assert float(row["max_inversion_ms_by_broker"]) < 100
    assert int(row["violation_count"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--partitions", "0"], "between 1 and 64"),
    (["--partitions", "a,b"], "whole numbers"),
    (["--events", "0"], "--events must be at least 1"),
])
def test_bad_arguments_are_refused(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("partition_experiment", *args)


def test_the_kafka_probe_counts_every_message_of_a_topic_filled_before_it_joined(kafka_topics, settings):
    from lab.partition_experiment import probe_kafka_rate
    from streaming.producer import publish_many

    publish_many(settings.FIRSTCOME_TOPIC, [(None, b"x", None)] * 12_000)
    seen, first, last = probe_kafka_rate(settings.FIRSTCOME_TOPIC, 12_000, timeout_s=60)
    assert seen == 12_000 and first <= last

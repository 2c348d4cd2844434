"""manage.py redrive_dead_letters against the real broker and MariaDB: a request the database
refused (a trigger) is dead-lettered, listed with its reason, replayed once the cause is gone, and
decided with its original request id; a second replay publishes nothing."""
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from campaigns.messages import encode_participation
from campaigns.models import Participation
from streaming.producer import publish_many
from testsupport.consumers import first_come_worker
from testsupport.factories import CampaignFactory
from testsupport.kafka import read_topic

pytestmark = pytest.mark.django_db(transaction=True)


def redrive(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("redrive_dead_letters", *args, stdout=out)
    return out.getvalue()


def test_a_refused_request_is_listed_replayed_once_and_decided_with_its_own_request_id(kafka_topics, settings,
                                                                                       refusing_trigger):
    campaign = CampaignFactory(total_stock=5)
    ids = {user: uuid.uuid4() for user in ("a", "poison-signal", "b")}
    now = timezone.now()
    publish_many(settings.FIRSTCOME_TOPIC, [(None, encode_participation(rid, campaign.pk, user, now), None)
                                            for user, rid in ids.items()])
    assert first_come_worker(settings, expected=3, max_poll_records=100).run() == 0
    assert set(Participation.objects.values_list("user_id", flat=True)) == {"a", "b"}

    listing = redrive()  # a dry run: listed with its reason, nothing published
    assert f"request_id={ids['poison-signal']}" in listing and "kind=isolated" in listing
    assert "refused by the test trigger" in listing and "undecided" in listing
    assert "1 dead letter(s)" in listing and "dry run: nothing published" in listing
    assert len(read_topic(settings.FIRSTCOME_TOPIC, expected=3)) == 3

    with pytest.raises(CommandError, match="--replay needs --all or --offsets"):
        redrive("--replay")
    with pytest.raises(CommandError, match="no dead letter at 0:7"):
        redrive("--replay", "--offsets", "7")

    with connection.cursor() as cursor:  # the cause is fixed
        cursor.execute("DROP TRIGGER IF EXISTS participation_refuses")
    assert "replayed 1 record(s)" in redrive("--replay", "--offsets", "0:0")
    assert first_come_worker(settings, expected=1, max_poll_records=100).run() == 0
    decided = Participation.objects.get(user_id="poison-signal")
    assert decided.request_id == ids["poison-signal"] and decided.status == "SUCCESS"

    again = redrive("--replay", "--all")  # run twice: nothing more is published
    assert "replayed 0 record(s); 1 skipped" in again and " decided  reason=" in again
    messages = read_topic(settings.FIRSTCOME_TOPIC, expected=4)
    assert len(messages) == 4
    assert dict(messages[-1].headers)["redriven_from"] == f"{settings.FIRSTCOME_DLQ_TOPIC}:0:0".encode()
    assert Participation.objects.filter(request_id=ids["poison-signal"]).count() == 1

"""Requests published the way the API publishes them, in one go or as a live stream, and the
dead-letter topic read back."""
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from lab.publishing import publish_participations
from testsupport.identity import ACTING
from testsupport.kafka import read_topic


@dataclass(frozen=True)
class Published:
    """Requests the broker acknowledged (the '202' set): request id → user id."""
    users_by_request: dict

    @property
    def request_ids(self):
        return set(self.users_by_request)

    @property
    def users(self):
        return set(self.users_by_request.values())


def publish_requests(campaign, user_ids, *, chunk=2000):
    """Publish one participation request per user id straight to the participation topic with
    the API's encoder, key and producer (lab.publishing): exactly what participation_submit
    sends, without the HTTP and database round trip per request. Returns once the broker has
    acknowledged every one."""
    published = Published(publish_participations(topic=settings.FIRSTCOME_TOPIC, key_by=settings.FIRSTCOME_MESSAGE_KEY,
                                                 requests=((campaign.pk, user_id) for user_id in user_ids), chunk=chunk))
    ACTING.owners.update(published.users_by_request)  # their owners look them up (testsupport.identity)
    return published


class StreamPublisher(threading.Thread):
    """publish_requests in the background, `chunk` users every `interval` seconds, so that the
    faults a test injects meanwhile land in the middle of a live stream. join() → Published."""

    def __init__(self, campaign, user_ids, *, chunk=250, interval=0.25):
        super().__init__(daemon=True, name="stream-publisher")
        self.campaign, self.user_ids, self.chunk, self.interval = campaign, list(user_ids), chunk, interval
        self.users_by_request = {}
        self.error = None

    def run(self):
        try:
            for start in range(0, len(self.user_ids), self.chunk):
                began = time.monotonic()
                sent = publish_requests(self.campaign, self.user_ids[start:start + self.chunk])
                self.users_by_request.update(sent.users_by_request)
                time.sleep(max(self.interval - (time.monotonic() - began), 0))
        except Exception as exc:  # reported by join(), in the test's thread
            self.error = exc

    def join(self, timeout=None):
        super().join(timeout)
        if self.error:
            raise self.error
        return Published(dict(self.users_by_request))


def dead_letters(expected, *, timeout=30):
    """The dead-letter topic's messages as {(source partition, source offset): reason}, once
    `expected` distinct source records are there (a redelivered poison record may appear twice)."""
    found = {}

    def enough(messages):
        for message in messages:
            headers = dict(message.headers)
            found[(int(headers["source_partition"]), int(headers["source_offset"]))] = headers["reason"].decode()
        return len(found) >= expected

    if expected:
        read_topic(settings.FIRSTCOME_DLQ_TOPIC, until=enough, timeout=timeout)
    return found

"""Participations posted without pause by many clients, every one from a new user, each answer
recorded with its timing: the load a fault test stages its fault under."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from testsupport.web import call

CLIENTS = 24  # more than gunicorn's 2 workers x 8 threads: an outage must not queue requests up


@dataclass(frozen=True)
class Answer:
    user_id: str
    sent: float
    answered: float
    status: int  # 0: no answer (refused, reset, timed out)
    request_id: str | None
    code: str | None = None  # the error body's code, for an answer other than 202

    @property
    def seconds(self):
        return self.answered - self.sent


class Load:
    """CLIENTS threads, each posting participations one after the other, every one from a new user."""

    def __init__(self, base_url, campaign):
        self.url = f"{base_url}/api/campaigns/{campaign.pk}/participations"
        self.answers = []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(CLIENTS)
        self._futures = []

    def _client(self, index):
        for n in range(100_000):
            if self._stop.is_set():
                return
            user_id = f"c{index}-{n}"
            sent = time.monotonic()
            try:
                status, body = call("POST", self.url, body={"user_id": user_id}, timeout=10)
            except OSError:
                status, body = 0, None
            request_id = body.get("request_id") if status == 202 else None
            code = body.get("code") if status != 202 and isinstance(body, dict) else None
            self.answers.append(Answer(user_id, sent, time.monotonic(), status, request_id, code))

    def start(self):
        self._futures = [self._pool.submit(self._client, i) for i in range(CLIENTS)]

    def stop(self):
        if self._stop.is_set():
            return self.answers
        self._stop.set()
        for future in self._futures:
            future.result()
        self._pool.shutdown()
        return self.answers

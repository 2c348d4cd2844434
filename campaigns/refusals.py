"""Participations refused at the door because their campaign was sold out (409 sold_out, nothing
published: campaigns.submission.check_open): counted in memory per campaign and day, and added to
the statistics (stats.SoldOutRefusals) every FIRSTCOME_REFUSALS_FLUSH_S, at the server's graceful
stop and at exit. No database write or message per refused request.
"""
import atexit
import logging
import threading
import time
from collections import defaultdict
from datetime import date

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from prometheus_client import Counter

log = logging.getLogger(__name__)

SOLD_OUT_REFUSALS = Counter("firstcome_sold_out_refusals_total",
                            "Participations refused at the door because the campaign was sold out (409 "
                            "sold_out, nothing published); per campaign: the daily statistics.")


class SoldOutRefusals:
    """Refusals per (campaign, day in TIME_ZONE), counted in memory and written by `sink` (the
    statistics, stats.apps) every `interval_s` from a daemon thread, and at the server's graceful
    stop: one upsert per flush, whatever the number of refused requests."""

    def __init__(self, *, interval_s: float | None = None):
        self.interval_s = interval_s  # None: settings.FIRSTCOME_REFUSALS_FLUSH_S
        self.sink = None  # callable({(campaign_id, day): count}); set by the stats app
        self._counts = defaultdict(int)
        self._lock = threading.Lock()
        self._thread = None

    def record(self, campaign_id: int) -> None:
        SOLD_OUT_REFUSALS.inc()
        with self._lock:
            self._counts[(campaign_id, timezone.localdate())] += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._flush_periodically, name="sold-out-refusals",
                                                daemon=True)
                self._thread.start()
                # A process that ends without gunicorn's graceful stop (runserver, a WSGI server,
                # a script) writes what it counted since the last flush as it exits.
                atexit.register(self.flush)

    def pending(self) -> dict[tuple[int, date], int]:
        with self._lock:
            return dict(self._counts)

    def _keep(self, counts) -> None:
        with self._lock:
            for key, n in counts.items():
                self._counts[key] += n

    def flush(self) -> None:
        """Write what was counted since the last flush; kept for the next one if the write fails."""
        with self._lock:
            counts, self._counts = self._counts, defaultdict(int)
        if not counts or self.sink is None:
            return self._keep(counts)
        try:
            close_old_connections()
            self.sink(dict(counts))
        except Exception:  # the database is down: keep the counts, try again next interval
            log.warning("sold-out refusals not written; kept for the next flush", exc_info=True)
            self._keep(counts)
        finally:
            close_old_connections()

    def flush_off_the_loop(self) -> None:
        """flush() on a thread of its own: the server's graceful stop calls this on its event
        loop, where Django refuses a database write. Not a daemon: the worker exits after it."""
        threading.Thread(target=self.flush, name="sold-out-refusals-flush").start()

    def _flush_periodically(self):
        while True:
            time.sleep(self.interval_s or settings.FIRSTCOME_REFUSALS_FLUSH_S)
            self.flush()


sold_out_refusals = SoldOutRefusals()  # the server flushes it at its graceful stop too (campaign_site/asgi.py)

"""Offset holes for the dashboard, looked for without a broker connection per snapshot.

The dashboard asks every second, per viewer; looking for a hole costs a consumer connection, so
each answer is kept (an LRU) and looked for again after RECHECK_S, not at every snapshot: a hole
may fill, and "no hole" may only mean the probe read nothing within its timeout. A partition whose committed offset
moved since this process's previous snapshot is being consumed: it has no hole to report and is
not probed at all.
"""
import threading
import time
from collections import OrderedDict

from streaming.worker import GAP_PATIENCE_S, offset_holes

MEMORY = 4096  # (topic, partition, offset) answers kept
RECHECK_S = 5.0  # a hole found is probed again after this long: it may have filled


class HoleProbe:
    def __init__(self, *, probe=offset_holes, memory: int = MEMORY, clock=time.monotonic):
        self._probe = probe
        self._clock = clock
        self._memory = memory
        self._found = OrderedDict()  # (topic, partition, offset) -> (hole or None, probed at)
        self._last_committed = {}  # (topic, partition) -> committed offset at the previous look
        self._lock = threading.Lock()

    def holes(self, topic: str, committed: dict, *, bootstrap_servers, timeout_ms) -> dict:
        """offset_holes' answer for `committed` ({partition: offset} of the lagging partitions)."""
        with self._lock:
            moved = {p for p, offset in committed.items()
                     if self._last_committed.get((topic, p), offset) != offset}
            self._last_committed.update({(topic, p): offset for p, offset in committed.items()})
            now = self._clock()
            unknown = {p: offset for p, offset in committed.items()
                       if p not in moved and self._stale((topic, p, offset), now)}
        if unknown:
            found = self._probe(topic, unknown, bootstrap_servers=bootstrap_servers, timeout_ms=timeout_ms)
            now = self._clock()
            with self._lock:
                for p, offset in unknown.items():
                    self._found[(topic, p, offset)] = (found.get(p), now)
                    self._found.move_to_end((topic, p, offset))
                while len(self._found) > self._memory:
                    self._found.popitem(last=False)
        return self._known(topic, committed, moved)

    def _stale(self, key, now) -> bool:
        """Never probed, or probed over RECHECK_S ago."""
        if key not in self._found:
            return True
        return now - self._found[key][1] >= RECHECK_S

    def _known(self, topic, committed, moved) -> dict:
        holes, now = {}, self._clock()
        with self._lock:
            for p, offset in committed.items():
                hole, probed_at = self._found.get((topic, p, offset), (None, now))
                if hole is not None and p not in moved:
                    age = round(hole["age_s"] + now - probed_at, 1)
                    holes[p] = {**hole, "age_s": age, "stalled": age >= GAP_PATIENCE_S}
        return holes


hole_probe = HoleProbe()

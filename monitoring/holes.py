"""Offset holes for the dashboard, looked for without a broker connection per snapshot.

The dashboard asks every second, per viewer; looking for a hole costs a consumer connection. What
is at an offset never changes, so a partition's committed offset is probed once (an LRU of the
answers); a partition whose committed offset moved since this process's previous snapshot is being
consumed, so it has no hole to report and is not probed at all.
"""
import threading
import time
from collections import OrderedDict

from streaming.worker import GAP_PATIENCE_S, offset_holes

MEMORY = 4096  # (topic, partition, offset) answers kept


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
            unknown = {p: offset for p, offset in committed.items()
                       if p not in moved and (topic, p, offset) not in self._found}
        if unknown:
            found = self._probe(topic, unknown, bootstrap_servers=bootstrap_servers, timeout_ms=timeout_ms)
            now = self._clock()
            with self._lock:
                for p, offset in unknown.items():
                    self._found[(topic, p, offset)] = (found.get(p), now)
                while len(self._found) > self._memory:
                    self._found.popitem(last=False)
        return self._known(topic, committed, moved)

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

"""The dashboard's hole probe: which partitions it asks the broker about, and how often. The probe
function is injected here to count the asks and move the clock; against the real broker, a hole
behind a transaction marker is found through the dashboard snapshot in
streaming/tests/test_worker_isolation.py::test_a_hole_at_the_first_poll_after_an_assignment_stalls_visibly_and_is_never_committed_over."""
from monitoring.holes import RECHECK_S, HoleProbe


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Broker:
    """Answers as streaming.worker.offset_holes does; a hole's age follows the clock."""

    def __init__(self, clock, holes):
        self.clock, self.holes, self.asked = clock, holes, []  # holes: {partition: (offset, written at)}

    def __call__(self, topic, committed, *, bootstrap_servers, timeout_ms):
        self.asked.append(dict(committed))
        return {p: {"offset": self.holes[p][0], "next_offset": self.holes[p][0] + 1,
                    "age_s": round(self.clock() - self.holes[p][1], 1), "stalled": False}
                for p in committed if p in self.holes}


def look(probe, committed):
    return probe.holes("t", committed, bootstrap_servers=["x"], timeout_ms=100)


def test_a_stuck_partition_is_probed_once_per_recheck_and_its_hole_ages_until_stalled():
    clock = Clock()
    broker = Broker(clock, {0: (4, clock.now - 1)})
    probe = HoleProbe(probe=broker, clock=clock)
    first = look(probe, {0: 4, 1: 9})
    assert first == {0: {"offset": 4, "next_offset": 5, "age_s": 1.0, "stalled": False}}
    for _ in range(100):  # the dashboard asking every second
        clock.now += 1
        holes = look(probe, {0: 4, 1: 9})
    # Both again every RECHECK_S, not every second.
    assert all(asked == {0: 4, 1: 9} for asked in broker.asked)
    assert len(broker.asked) == 1 + int(100 // RECHECK_S)
    assert holes == {0: {"offset": 4, "next_offset": 5, "age_s": 101.0, "stalled": True}}


def test_a_probe_that_read_nothing_in_time_is_looked_at_again():
    """offset_holes leaves out a partition it read nothing from within its timeout: that is not a
    readable offset to remember, or a stuck partition would never show."""
    clock = Clock()
    broker = Broker(clock, {})  # the first probe times out: no answer for partition 0
    probe = HoleProbe(probe=broker, clock=clock)
    assert look(probe, {0: 4}) == {}
    broker.holes[0] = (4, clock.now - 40)
    clock.now += RECHECK_S
    assert look(probe, {0: 4})[0]["stalled"] is True


def test_a_hole_that_filled_is_no_longer_reported_after_the_recheck():
    clock = Clock()
    broker = Broker(clock, {0: (4, clock.now - 40)})
    probe = HoleProbe(probe=broker, clock=clock)
    assert look(probe, {0: 4})[0]["stalled"] is True
    del broker.holes[0]  # the record at offset 4 became readable; the consumer is down, nothing moved
    clock.now += RECHECK_S
    assert look(probe, {0: 4}) == {}


def test_a_partition_that_moved_since_the_last_snapshot_is_not_probed():
    clock = Clock()
    broker = Broker(clock, {})
    probe = HoleProbe(probe=broker, clock=clock)
    look(probe, {0: 10})
    for offset in range(11, 50):
        assert look(probe, {0: offset}) == {}
    assert broker.asked == [{0: 10}]
    look(probe, {0: 49})  # it stopped: looked at once
    assert broker.asked == [{0: 10}, {0: 49}]


def test_what_it_remembers_is_bounded():
    clock = Clock()
    probe = HoleProbe(probe=Broker(clock, {}), memory=3, clock=clock)
    for offset in range(10):
        look(probe, {0: offset})
        look(probe, {0: offset})
    assert len(probe._found) == 3

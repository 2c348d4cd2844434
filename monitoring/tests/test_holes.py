"""The dashboard's hole probe: one broker connection per committed offset, whatever the number of
snapshots; none for a partition that is moving; a known hole ages with the clock."""
from monitoring.holes import HoleProbe
from streaming.worker import GAP_PATIENCE_S


class FakeBroker:
    def __init__(self, holes):
        self.holes, self.asked = holes, []

    def __call__(self, topic, committed, *, bootstrap_servers, timeout_ms):
        self.asked.append(dict(committed))
        return {p: self.holes[p] for p in committed if p in self.holes}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def look(probe, committed):
    return probe.holes("t", committed, bootstrap_servers=["x"], timeout_ms=100)


def test_a_stuck_partition_is_probed_once_and_its_hole_ages_until_stalled():
    broker, clock = FakeBroker({0: {"offset": 4, "next_offset": 5, "age_s": 1.0, "stalled": False}}), Clock()
    probe = HoleProbe(probe=broker, clock=clock)
    assert look(probe, {0: 4, 1: 9})[0]["stalled"] is False
    for _ in range(100):  # the dashboard asking every second, several viewers
        clock.now += 1
        holes = look(probe, {0: 4, 1: 9})
    assert broker.asked == [{0: 4, 1: 9}]
    assert holes == {0: {"offset": 4, "next_offset": 5, "age_s": 101.0, "stalled": 101.0 >= GAP_PATIENCE_S}}


def test_a_partition_that_moved_since_the_last_snapshot_is_not_probed():
    broker = FakeBroker({})
    probe = HoleProbe(probe=broker)
    look(probe, {0: 10})
    for offset in range(11, 50):
        assert look(probe, {0: offset}) == {}
    assert broker.asked == [{0: 10}]
    look(probe, {0: 49})  # it stopped: looked at once
    assert broker.asked == [{0: 10}, {0: 49}]


def test_what_it_remembers_is_bounded():
    broker = FakeBroker({})
    probe = HoleProbe(probe=broker, memory=3)
    for offset in range(10):
        look(probe, {0: offset})
        look(probe, {0: offset})
    assert len(probe._found) == 3

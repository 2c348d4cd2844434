"""The partition experiment: the same burst decided with 1, 3, 5… partitions (one consumer process
per partition, one group), measured from the database and the broker.

For each partition count: a fresh topic and campaign; the deciders start; many simulated users
publish their requests concurrently, exactly as the API does (same message, key and producer
settings: lab.publishing); a probe consumer in its own group measures how fast Kafka alone delivers them; CPU of
every process is sampled; when every request is decided the metrics are computed from the rows.
"""
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from django.conf import settings
from kafka import KafkaConsumer

from campaigns import services
from stats import ordering
from lab.cpu import CpuSampler
from lab.deciders import decider_env, running_deciders, wait_until_decided
from lab.processes import wait_until
from lab.publishing import publish_burst
from lab.reports import csv_write, markdown_table
from lab.selectors import decided_events
from streaming.topics import ensure_topics
from streaming.worker import FETCH_MIN_BYTES


@dataclass
class ExperimentConfig:
    partitions: list
    events: int = 100_000
    key_by: str = "user"
    stock: int | None = None       # per campaign; default: a tenth of its events
    campaigns: int = 1             # the events are spread evenly over this many campaigns
    users: int | None = None       # default: half the events (most users ask twice)
    publishers: int = 4            # concurrent simulated clients
    output_dir: Path = Path("results")
    timeout_s: float = 900

    def __post_init__(self):
        self.stock = self.stock or max(1, self.events // self.campaigns // 10)
        self.users = self.users or max(1, self.events // 2)


@dataclass
class RunResult:
    partitions: int
    events: int
    processing_tps: float
    kafka_tps: float
    switch_ratio: float
    violation_count: int
    unfair_by_receive: ordering.Fairness
    unfair_by_broker: ordering.Fairness
    latency_ms: dict
    total_seconds: float
    publish_seconds: float
    outcomes: dict
    decision_rate: list = field(default_factory=list)   # [(s, decisions/s)]
    cpu: dict = field(default_factory=dict)             # {process: [(s, cpu %)]}


def local_servers():
    """{name: pid} of the database server and of the broker we talk to, when they run here."""
    ports = {f":{address.rsplit(':', 1)[-1]}" for address in settings.KAFKA_BOOTSTRAP_SERVERS}
    found = {}
    for proc in psutil.process_iter(["name", "pid", "cmdline"]):
        name, cmdline = proc.info["name"] or "", " ".join(proc.info["cmdline"] or [])
        if name in ("mariadbd", "mysqld"):
            found[name] = proc.info["pid"]
        elif name.startswith("tansu") and any(port in cmdline for port in ports):
            found["broker"] = proc.info["pid"]
    return found


def group_is_stable(assignment_files, partitions):
    """Every consumer holds at least one partition and together they hold all of them once."""
    held = []
    for path in assignment_files:
        try:
            mine = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            return False
        if not mine:
            return False
        held += mine
    return sorted(held) == list(range(partitions))


def probe_kafka_rate(topic, expected, timeout_s, ready=None, stop=None, poll_sizes=None):
    """A consumer that only polls (Kafka alone): (messages seen, wall time of the first and of the
    last poll that returned any). Sets `ready` once it holds the topic; gives up at timeout_s or
    as soon as `stop` is set; appends each poll's record count to `poll_sizes` if given."""
    stop = stop or threading.Event()
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                             group_id=f"probe-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest",
                             enable_auto_commit=False, fetch_max_wait_ms=settings.KAFKA_FETCH_MAX_WAIT_MS,
                             fetch_min_bytes=FETCH_MIN_BYTES, max_poll_records=5000, session_timeout_ms=settings.KAFKA_SESSION_TIMEOUT_MS,
                             heartbeat_interval_ms=settings.KAFKA_HEARTBEAT_INTERVAL_MS)
    seen, first, last = 0, None, None

    def take(polled):
        nonlocal seen, first, last
        if polled and poll_sizes is not None:
            poll_sizes.append(sum(map(len, polled.values())))
        for records in polled.values():
            first = first or time.time()
            seen += len(records)
            last = time.time()

    deadline = time.monotonic() + timeout_s
    try:
        # The poll that completes the group join can already return records (on a topic that
        # has some): counted, not dropped.
        while not consumer.assignment() and time.monotonic() < deadline:
            take(consumer.poll(timeout_ms=100))
        if ready:
            ready.set()
        while seen < expected and time.monotonic() < deadline and not stop.is_set():
            take(consumer.poll(timeout_ms=200))
    finally:
        consumer.close()
    return seen, first, last


def count_messages(topic, *, expected, quiet_s=2.0, timeout_s=120):
    """Messages the topic holds, counted by reading every partition from the start (no group to
    join) until the count has reached `expected` and stayed the same for quiet_s, or has stayed
    the same for quiet_s * 5 short of it. End offsets are not used: the embedded broker's can
    trail the last batch written."""
    from kafka import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False,
                             fetch_max_wait_ms=settings.KAFKA_FETCH_MAX_WAIT_MS, fetch_min_bytes=FETCH_MIN_BYTES,
                             max_poll_records=5000)
    try:
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), timeout=30,
                                message=f"metadata for {topic}")
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        seen, changed, deadline = 0, time.monotonic(), time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = sum(len(records) for records in consumer.poll(timeout_ms=200).values())
            if got:
                seen, changed = seen + got, time.monotonic()
            elif time.monotonic() - changed >= (quiet_s if seen >= expected else quiet_s * 5):
                break
        return seen
    finally:
        consumer.close()


def run_one(partitions, config, log):
    suffix = f"{datetime.now():%Y%m%d%H%M%S}-p{partitions}-{uuid.uuid4().hex[:4]}"
    topic = f"x.p{partitions}.{uuid.uuid4().hex[:6]}"  # short: the embedded broker reads longer names slowly
    ensure_topics({topic: partitions, f"{topic}.dlq": 1, f"{topic}.decisions": 1})
    campaigns = [services.campaign_create(
        name=f"partition experiment p={partitions} key={config.key_by} #{n + 1}", total_stock=config.stock)
        for n in range(config.campaigns)]
    campaign_ids = [c.pk for c in campaigns]
    env = decider_env(topic, f"deciders-{suffix}", FIRSTCOME_MESSAGE_KEY=config.key_by, LOG_LEVEL="WARNING")
    logs = config.output_dir / "logs"
    assignment_files = [logs / f"p{partitions}-consumer-{i}.assignment.json" for i in range(partitions)]
    probe_ready, probe_stop = threading.Event(), threading.Event()
    sampler = None
    with running_deciders(env, count=partitions, log_dir=logs, stem=f"p{partitions}",
                          args=lambda i: ("--assignment-file", str(assignment_files[i]))) as consumers:
        watched = {c.name: c.pid for c in consumers}
        watched.update(local_servers())
        watched["publishers (this process)"] = os.getpid()
        probe = ThreadPoolExecutor(1).submit(probe_kafka_rate, topic, config.events, config.timeout_s,
                                             probe_ready, probe_stop)
        try:
            # The burst starts once every consumer holds its partition (a real campaign's consumers
            # are running before it opens) and the probe has joined its own group.
            wait_until(lambda: group_is_stable(assignment_files, partitions), timeout=60,
                       message=f"{partitions} consumers to share {partitions} partitions")
            probe_ready.wait(60)
            sampler = CpuSampler(watched)
            sampler.start()
            log(f"p={partitions}: {len(consumers)} consumer(s) assigned; publishing {config.events:,} requests")
            published_at, acked_at = publish_burst(topic=topic, campaign_ids=campaign_ids, users=config.users,
                                                   count=config.events, key_by=config.key_by,
                                                   publishers=config.publishers)
            wait_until_decided(campaign_ids, config.events, timeout_s=config.timeout_s)
        except BaseException:
            probe_stop.set()  # or the probe polls on until timeout_s and holds the process's exit
            raise
        finally:
            cpu = sampler.stop() if sampler else {}
    probed, _, last_poll = probe.result()
    by_campaign = {pk: decided_events(campaign_id=pk) for pk in campaign_ids}
    events = [e for campaign_events in by_campaign.values() for e in campaign_events]
    decided = [e.decided_at for e in events]
    result = RunResult(
        partitions=partitions, events=len(events),
        processing_tps=ordering.commit_rate(decided),
        kafka_tps=probed / (last_poll - published_at) if probed and last_poll else float("nan"),
        switch_ratio=ordering.switch_ratio(events),
        violation_count=ordering.violation_count(events),
        # Fairness is within a campaign: who asked first for the same coupons.
        unfair_by_receive=ordering.Fairness.combine(
            ordering.fairness(campaign_events, lambda e: e.received_at) for campaign_events in by_campaign.values()),
        unfair_by_broker=ordering.Fairness.combine(
            ordering.fairness(campaign_events, lambda e: e.broker_ts) for campaign_events in by_campaign.values()),
        latency_ms={p: v / 1000 for p, v in ordering.percentiles(
            [e.decided_at - e.received_at for e in events]).items()},
        total_seconds=max(decided) / 1_000_000 - published_at,
        publish_seconds=acked_at - published_at,
        outcomes={status: sum(e.status == status for e in events) for status in ("SUCCESS", "SOLD_OUT", "DUPLICATE")},
        decision_rate=ordering.rate_series(decided, bucket_s=0.5),
        cpu=cpu,
    )
    log(f"p={partitions}: {result.processing_tps:,.0f} decisions/s, kafka {result.kafka_tps:,.0f} msg/s, "
        f"switch ratio {result.switch_ratio:.4f}, violations {result.violation_count}, "
        f"unfair winners {result.unfair_by_receive.unfair_winners}")
    return result


def run_experiment(config, log=print):
    config.output_dir.mkdir(parents=True, exist_ok=True)
    results = [run_one(p, config, log) for p in config.partitions]
    write_reports(results, config)
    return results


COLUMNS = ["partition_count", "total_events", "processing_tps", "kafka_tps", "switch_ratio",
           "violation_count", "unfair_winners_by_receive", "max_inversion_ms_by_receive",
           "unfair_winners_by_broker", "max_inversion_ms_by_broker", "latency_p50_ms",
           "latency_p95_ms", "latency_p99_ms", "total_seconds", "success", "sold_out", "duplicate"]


def as_row(r):
    return [r.partitions, r.events, round(r.processing_tps, 1), round(r.kafka_tps, 1),
            round(r.switch_ratio, 4), r.violation_count, r.unfair_by_receive.unfair_winners,
            round(r.unfair_by_receive.max_inversion_ms, 1), r.unfair_by_broker.unfair_winners,
            round(r.unfair_by_broker.max_inversion_ms, 1), round(r.latency_ms[50], 1),
            round(r.latency_ms[95], 1), round(r.latency_ms[99], 1), round(r.total_seconds, 2),
            r.outcomes["SUCCESS"], r.outcomes["SOLD_OUT"], r.outcomes["DUPLICATE"]]


def report_name(config):
    many = f"-{config.campaigns}-campaigns" if config.campaigns > 1 else ""
    return f"partition-experiment-key-{config.key_by}{many}"


def write_reports(results, config):
    stem = config.output_dir / report_name(config)
    rows = [as_row(r) for r in results]
    csv_write(f"{stem}.csv", COLUMNS, rows)
    lines = [f"# Partition experiment — key = {config.key_by}", "",
             f"{config.events:,} requests from {config.users:,} users to {config.campaigns} campaign(s), "
             f"stock {config.stock:,} each, "
             f"{config.publishers} concurrent publishers; one consume_firstcome per partition. "
             f"Run {datetime.now():%Y-%m-%d %H:%M}.", "",
             *markdown_table(COLUMNS, [[f"{v:,}" if isinstance(v, int) else v for v in row] for row in rows])]
    lines += ["", f"![decisions per second]({stem.name}-tps.png)", "", f"![CPU]({stem.name}-cpu.png)", ""]
    Path(f"{stem}.md").write_text("\n".join(lines))
    write_charts(results, stem)


def write_charts(results, stem):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    for r in results:
        ax.plot([t for t, _ in r.decision_rate], [v for _, v in r.decision_rate], label=f"{r.partitions} partition(s)")
    ax.set(xlabel="seconds since the first decision", ylabel="decisions committed / s",
           title="DB-commit throughput over time")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(f"{stem}-tps.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(len(results), 1, figsize=(9, 2.6 * len(results)), sharex=True, squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        for name, samples in sorted(r.cpu.items()):
            if samples:
                ax.plot([t for t, _ in samples], [v for _, v in samples], label=name,
                        linewidth=2 if name == "host" else 1)
        ax.set(ylabel="CPU %", title=f"{r.partitions} partition(s)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=4, loc="upper right")
    axes[-1, 0].set_xlabel("seconds since the consumers started")
    fig.tight_layout()
    fig.savefig(f"{stem}-cpu.png", dpi=110)
    plt.close(fig)

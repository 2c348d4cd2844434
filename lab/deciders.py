"""Start consume_firstcome processes on a topic of their own and wait for what they decide: the
one way the partition experiment and the consumer benchmark run deciders and measure them."""
from contextlib import contextmanager
from pathlib import Path

from campaigns.models import Participation
from lab.processes import ManagedProcess, project_env, wait_until


def decider_env(topic: str, group_id: str, **overrides) -> dict:
    """The deciders' environment for `topic`: its dead letters and decision events on topics
    named after it, so runs never share a topic."""
    return project_env(FIRSTCOME_TOPIC=topic, FIRSTCOME_DLQ_TOPIC=f"{topic}.dlq",
                       FIRSTCOME_DECISIONS_TOPIC=f"{topic}.decisions", FIRSTCOME_GROUP_ID=group_id, **overrides)


@contextmanager
def running_deciders(env: dict, *, count: int = 1, log_dir, stem: str, args=lambda i: ()):
    """`count` consume_firstcome processes (args(i): the i-th one's options), stopped on exit."""
    deciders = []
    try:
        for i in range(count):
            deciders.append(ManagedProcess.manage(
                "consume_firstcome", *args(i), env=env, name=f"consumer-{i}",
                log_path=Path(log_dir) / f"{stem}-consumer-{i}.log").start())
        yield deciders
    finally:
        for decider in deciders:
            decider.stop()


def wait_until_decided(campaign_ids, count: int, *, timeout_s: float) -> None:
    """Until the campaigns hold `count` participation rows (one per decided request)."""
    wait_until(lambda: Participation.objects.filter(campaign__in=campaign_ids).count() >= count,
               timeout=timeout_s, interval=0.5, message=f"{count} decisions")

from django.conf import settings

from stats.consumers import StatsConsumer
from streaming.commands import WorkerCommand


class Command(WorkerCommand):
    help = "Store the decision events raw for the statistics (long-running, off the hot path)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--topic", default=settings.FIRSTCOME_DECISIONS_TOPIC)
        parser.add_argument("--group-id", default=settings.STATS_GROUP_ID)
        parser.add_argument("--dead-letter-topic", default=settings.STATS_DLQ_TOPIC)

    def build_worker(self, options):
        return StatsConsumer(
            topic=options["topic"], group_id=options["group_id"],
            dead_letter_topic=options["dead_letter_topic"],
            max_poll_records=options["max_poll_records"] or settings.STATS_MAX_POLL_RECORDS,
        )

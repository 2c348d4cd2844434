from django.conf import settings

from campaigns.consumers import MODES, FirstComeConsumer
from streaming.commands import WorkerCommand


class Command(WorkerCommand):
    help = "Decide participation requests from Kafka, in Kafka order (long-running)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--topic", default=settings.FIRSTCOME_TOPIC)
        parser.add_argument("--group-id", default=settings.FIRSTCOME_GROUP_ID)
        parser.add_argument("--dead-letter-topic", default=settings.FIRSTCOME_DLQ_TOPIC)
        parser.add_argument("--decisions-topic", default=settings.FIRSTCOME_DECISIONS_TOPIC,
                            help="where decision events go for the statistics ('' for none)")
        parser.add_argument("--mode", choices=MODES, default="batch",
                            help="batch: one transaction per polled batch; per-event: one per "
                                 "message, as the original design (the baseline)")

    def build_worker(self, options):
        return FirstComeConsumer(
            topic=options["topic"], group_id=options["group_id"],
            dead_letter_topic=options["dead_letter_topic"],
            max_poll_records=options["max_poll_records"],
            mode=options["mode"], decisions_topic=options["decisions_topic"] or None,
            assignment_file=options["assignment_file"],
        )

from django.conf import settings

from campaigns.consumers import MODES, FirstComeConsumer
from streaming.commands import WorkerCommand


class Command(WorkerCommand):
    help = "Decide participation requests from Kafka, in Kafka order (long-running)."
    topic_setting = "FIRSTCOME_TOPIC"
    group_id_setting = "FIRSTCOME_GROUP_ID"
    dead_letter_topic_setting = "FIRSTCOME_DLQ_TOPIC"
    metrics_port_setting = "FIRSTCOME_CONSUMER_METRICS_PORT"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--decisions-topic", default=settings.FIRSTCOME_DECISIONS_TOPIC,
                            help="where decision events go for the statistics ('' for none)")
        parser.add_argument("--mode", choices=MODES, default="batch",
                            help="batch: one transaction per polled batch; per-event: one per "
                                 "message, as the original design (the baseline)")

    def build_worker(self, options):
        return FirstComeConsumer(**self.worker_options(options), mode=options["mode"],
                                 decisions_topic=options["decisions_topic"] or None)

from stats.consumers import StatsConsumer
from streaming.commands import WorkerCommand


class Command(WorkerCommand):
    help = "Store the decision events raw for the statistics (long-running, off the hot path)."
    topic_setting = "FIRSTCOME_DECISIONS_TOPIC"
    group_id_setting = "STATS_GROUP_ID"
    dead_letter_topic_setting = "STATS_DLQ_TOPIC"
    max_poll_records_setting = "STATS_MAX_POLL_RECORDS"
    metrics_port_setting = "STATS_CONSUMER_METRICS_PORT"

    def build_worker(self, options):
        return StatsConsumer(**self.worker_options(options))

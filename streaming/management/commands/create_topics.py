from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from kafka.errors import KafkaError

from streaming.topics import ensure_topics


class Command(BaseCommand):
    help = "Create the project's Kafka topics (existing topics are left as they are)."

    def add_arguments(self, parser):
        parser.add_argument("--partitions", type=int, default=settings.FIRSTCOME_PARTITIONS,
                            help="partitions of the participation topic")
        parser.add_argument("--topic", default=settings.FIRSTCOME_TOPIC)

    def handle(self, *args, **options):
        partitions = options["partitions"]
        if partitions < 1:
            raise CommandError("--partitions must be at least 1")
        wanted = {options["topic"]: partitions, settings.FIRSTCOME_DLQ_TOPIC: 1,
                  settings.FIRSTCOME_DECISIONS_TOPIC: 1, settings.STATS_DLQ_TOPIC: 1}
        try:
            actual = ensure_topics(wanted)
        except KafkaError as exc:
            raise CommandError(f"cannot reach Kafka at {','.join(settings.KAFKA_BOOTSTRAP_SERVERS)}: {exc}")
        for topic, count in actual.items():
            note = "" if count == wanted[topic] else f" (asked for {wanted[topic]}; an existing topic keeps its count)"
            self.stdout.write(f"{topic}: {count} partition(s){note}")

"""The thin management-command shell around a worker: options and signal handling only."""
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

log = logging.getLogger(__name__)


class WorkerCommand(BaseCommand):
    # Names of the settings holding this worker's defaults (read when the command runs).
    topic_setting = group_id_setting = dead_letter_topic_setting = max_poll_records_setting = None
    metrics_port_setting = None  # the setting naming this worker's metrics port (0: off)

    def add_arguments(self, parser):
        parser.add_argument("--topic", default=getattr(settings, self.topic_setting))
        parser.add_argument("--group-id", default=getattr(settings, self.group_id_setting))
        parser.add_argument("--dead-letter-topic", default=getattr(settings, self.dead_letter_topic_setting))
        parser.add_argument("--max-poll-records", type=int,
                            default=getattr(settings, self.max_poll_records_setting or "KAFKA_MAX_POLL_RECORDS"),
                            help="largest batch taken from one poll")
        parser.add_argument("--assignment-file", default=None,
                            help="write the assigned partitions (JSON) here whenever they change")
        parser.add_argument("--metrics-port", type=int, default=getattr(settings, self.metrics_port_setting) if self.metrics_port_setting else 0,
                            help="serve Prometheus metrics at http://ADDR:PORT/metrics and readiness at /readyz "
                                 f"(0: off; default {self.metrics_port_setting})")
        parser.add_argument("--instance", type=int, default=0,
                            help="this process's number among its unit's instances: added to the metrics port")
        parser.add_argument("--metrics-addr", default=settings.FIRSTCOME_CONSUMER_METRICS_ADDR,
                            help="address the metrics port listens on")

    def build_worker(self, options):
        raise NotImplementedError

    @staticmethod
    def worker_options(options):
        """The BatchConsumerWorker arguments every worker command takes."""
        return dict(topic=options["topic"], group_id=options["group_id"],
                    dead_letter_topic=options["dead_letter_topic"],
                    max_poll_records=options["max_poll_records"],
                    assignment_file=options["assignment_file"])

    def handle(self, *args, **options):
        if options["max_poll_records"] < 1:
            raise CommandError("--max-poll-records must be at least 1")
        if options["instance"] < 0:
            raise CommandError("--instance must be 0 or more")
        port = options["metrics_port"] + options["instance"] if options["metrics_port"] else 0
        if not 0 <= port <= 65535:
            raise CommandError("--metrics-port must be between 0 (off) and 65535 (with --instance added)")
        worker = self.build_worker(options)
        if port:
            worker.metrics = self.serve_metrics(worker, options["metrics_addr"], port)

        def stop(signum, _frame):
            log.info("%s: %s received, finishing the current batch", worker.name,
                     signal.Signals(signum).name)
            worker.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        code = worker.run()
        if code:
            raise SystemExit(code)

    @staticmethod
    def serve_metrics(worker, addr, port):
        from streaming import metrics  # only processes that export metrics register them

        from streaming.topics import DurabilityCheck

        written = [topic for topic in (worker.dead_letter_topic, getattr(worker, "decisions_topic", None)) if topic]
        try:
            metrics.serve(port, addr, worker=worker, durability=DurabilityCheck(written) if written else None)
        except OSError as exc:
            raise CommandError(f"cannot serve metrics on {addr}:{port}: {exc.strerror or exc}") from exc
        log.info("%s: Prometheus metrics on http://%s:%d/metrics, readiness on /readyz", worker.name, addr, port)
        return metrics.ConsumerMetrics(worker.name, worker.topic, worker=worker)

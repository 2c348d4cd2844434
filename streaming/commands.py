"""The thin management-command shell around a worker: options and signal handling only."""
import logging
import signal

from django.core.management.base import BaseCommand, CommandError

log = logging.getLogger(__name__)


class WorkerCommand(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--max-poll-records", type=int, default=None,
                            help="largest batch taken from one poll")
        parser.add_argument("--assignment-file", default=None,
                            help="write the assigned partitions (JSON) here whenever they change")

    def build_worker(self, options):
        raise NotImplementedError

    def handle(self, *args, **options):
        if options["max_poll_records"] is not None and options["max_poll_records"] < 1:
            raise CommandError("--max-poll-records must be at least 1")
        worker = self.build_worker(options)

        def stop(signum, _frame):
            log.info("%s: %s received, finishing the current batch", worker.name,
                     signal.Signals(signum).name)
            worker.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        code = worker.run()
        if code:
            raise SystemExit(code)

"""List the dead-lettered participation requests, and put chosen ones back to be decided."""
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from kafka.errors import KafkaError

from campaigns import selectors
from streaming.producer import PublishError
from streaming.redrive import REDRIVEN_FROM, NotReadToTheEnd, dead_letters, replay


def decided_ids(letters) -> set[str]:
    """The request ids among the letters' whose participation request has its decision already
    (redriven before, or decided by a redelivery), in one query: replaying those would only be
    answered with that decision. Records from another topic (the statistics consumer's) are stored
    idempotently by their own consumer: never counted as done here."""
    ids = set()
    for letter in letters:
        if letter.source_topic == settings.FIRSTCOME_TOPIC and letter.request_id:
            try:
                ids.add(uuid.UUID(letter.request_id))
            except ValueError:
                pass
    return {str(request_id) for request_id in selectors.participation_ids_decided(ids)}


class Command(BaseCommand):
    help = ("List what is in the dead-letter topic, with each record's reason (a dry run: the default); "
            "with --replay, publish the chosen records to their source topic again, to be decided with "
            "their original request id. Records whose request is already decided are skipped.")

    def add_arguments(self, parser):
        parser.add_argument("--topic", default=settings.FIRSTCOME_DLQ_TOPIC, help="the dead-letter topic")
        parser.add_argument("--replay", action="store_true", help="publish the chosen records (default: list only)")
        chosen = parser.add_mutually_exclusive_group()
        chosen.add_argument("--all", action="store_true", help="every record (with the filters below)")
        chosen.add_argument("--offsets", default="", help="comma-separated dead-letter coordinates, PARTITION:OFFSET "
                                                          "or OFFSET (partition 0), as the listing shows them")
        parser.add_argument("--reason-contains", default="", help="only records whose reason contains this text")
        parser.add_argument("--kind", choices=("malformed", "rejected", "isolated"), help="only records of this kind")

    def handle(self, *args, **options):
        wanted = self._coordinates(options["offsets"])
        if options["replay"] and not (options["all"] or wanted):
            raise CommandError("--replay needs --all or --offsets: say which records to put back")
        try:
            letters = dead_letters(options["topic"])
        except NotReadToTheEnd as exc:
            raise CommandError(f"nothing done: {exc}") from exc
        except KafkaError as exc:
            raise CommandError(f"cannot read {options['topic']}: {type(exc).__name__}") from exc
        chosen = [letter for letter in letters
                  if (not wanted or letter.coordinates in wanted)
                  and options["reason_contains"] in letter.reason
                  and (options["kind"] is None or letter.kind == options["kind"])]
        missing = wanted - {letter.coordinates for letter in letters}
        if missing:
            raise CommandError(f"no dead letter at {', '.join(sorted(missing))} in {options['topic']}")
        pending, seen, done_ids = [], set(), decided_ids(chosen)
        for letter in chosen:
            done = letter.source_topic == settings.FIRSTCOME_TOPIC and letter.request_id in done_ids
            # A letter dead-lettered again after a redrive (its cause not fixed) is put back only
            # when named; one request goes back once per run, however many letters it has.
            again = bool(letter.headers.get(REDRIVEN_FROM)) and letter.coordinates not in wanted
            same = (letter.source_topic, letter.request_id or letter.value) in seen
            seen.add((letter.source_topic, letter.request_id or letter.value))
            if not done and not again and not same:
                pending.append(letter)
            self.stdout.write(f"{letter.coordinates}  request_id={letter.request_id or '-'}  kind={letter.kind or '-'}  "
                              f"from={letter.source_topic}[{letter.headers.get('source_partition', '?')}]@"
                              f"{letter.headers.get('source_offset', '?')}  "
                              f"{'decided' if done else 'undecided'}"
                              f"{'  redriven before' if letter.headers.get(REDRIVEN_FROM) else ''}  reason={letter.reason}")
        self.stdout.write(f"{len(letters)} dead letter(s) in {options['topic']}, {len(chosen)} chosen, "
                          f"{len(pending)} not decided")
        if not options["replay"]:
            self.stdout.write("dry run: nothing published (--replay to put the undecided ones back)")
            return
        try:
            published = replay(pending, dead_letter_topic=options["topic"])
        except (PublishError, ValueError) as exc:
            raise CommandError(f"nothing replayed: {exc}") from exc
        self.stdout.write(f"replayed {published} record(s); {len(chosen) - len(pending)} skipped (decided, "
                          "redriven before and not named, or the same request twice)")

    @staticmethod
    def _coordinates(text: str) -> set[str]:
        coordinates = set()
        for item in filter(None, (part.strip() for part in text.split(","))):
            partition, _, offset = item.rpartition(":")
            if not offset.isdigit() or (partition and not partition.isdigit()):
                raise CommandError(f"--offsets: {item!r} is not PARTITION:OFFSET or OFFSET")
            coordinates.add(f"{int(partition or 0)}:{int(offset)}")
        return coordinates

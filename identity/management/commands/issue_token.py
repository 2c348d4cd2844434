"""manage.py issue_token --user U [--ttl S]: one development token, alone on stdout, for the
demo, curl and load scripts. Refused where the development issuer is off (production)."""
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from identity import participants
from identity.users import MAX_USER_ID_LENGTH, is_user_id


class Command(BaseCommand):
    help = "Print a development token for a user (local and test settings only)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help=f"the user id: 1-{MAX_USER_ID_LENGTH} printable characters")
        parser.add_argument("--ttl", type=int, default=3600, help="seconds the token is valid (1 to 86400)")

    def handle(self, *args, user, ttl, **options):
        if not is_user_id(user):
            raise CommandError(f"--user must be 1-{MAX_USER_ID_LENGTH} printable characters")
        if not 0 < ttl <= 86400:
            raise CommandError("--ttl must be 1 to 86400 seconds")
        try:
            minted = participants.mint(user, ttl_s=ttl)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(minted)

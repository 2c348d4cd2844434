"""manage.py create_api_token --user U --name N: a staff API client's token, printed once, alone
on stdout (only its SHA-256 is kept)."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from identity.api_tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a staff account (a till, a script) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="the account's username; its groups say what the token may do")
        parser.add_argument("--name", required=True, help="what holds the token, e.g. 'till 3'")

    def handle(self, *args, user, name, **options):
        if not 0 < len(name) <= 100:
            raise CommandError("--name must be 1-100 characters")
        try:
            account = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no account named {user!r}") from None
        _, presented = api_token_create(user=account, name=name)
        self.stdout.write(presented)

"""Staff roles: Django groups with the permissions each job needs, and nothing more.

- campaign managers: create, edit and close campaigns, export winners, read participations and
  any participant's result, read the statistics and run their batch (the admin and the staff API;
  is_staff, so the admin lets them in);
- tills: redeem coupons, nothing else (no admin: a till account is not is_staff; it reaches the
  API with a per-client API token, identity.models.ApiToken).

The groups are created and their permissions set exactly at every migrate (post_migrate), so a
permission added here reaches existing installations. docs/guarantees.md, "Who may do what".
"""
from django.db.models.signals import post_migrate

CAMPAIGN_MANAGERS = "campaign managers"
TILLS = "tills"

# What each API and admin action asks for (campaigns.permissions.Requires).
VIEW_CAMPAIGNS, ADD_CAMPAIGN, CHANGE_CAMPAIGN = "campaigns.view_campaign", "campaigns.add_campaign", "campaigns.change_campaign"
EXPORT_WINNERS, REDEEM_COUPON = "campaigns.export_winners", "campaigns.redeem_coupon"
READ_RESULTS = "campaigns.view_participation"
VIEW_STATISTICS, RUN_STATS_BATCH = "stats.view_campaignstats", "stats.add_batchrun"

ROLES = {
    CAMPAIGN_MANAGERS: (VIEW_CAMPAIGNS, ADD_CAMPAIGN, CHANGE_CAMPAIGN, EXPORT_WINNERS, READ_RESULTS,
                        VIEW_STATISTICS, RUN_STATS_BATCH),
    TILLS: (REDEEM_COUPON,),
}


def roles_ensure(*, using: str = "default") -> None:
    """Each role's group, holding exactly its permissions (made first if their app's migrate has
    not made them yet: the statistics app migrates after this one)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for label in {p.split(".")[0] for perms in ROLES.values() for p in perms}:
        create_permissions(apps.get_app_config(label), verbosity=0, using=using)
    for name, perms in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = [Permission.objects.using(using).get(content_type__app_label=p.split(".")[0],
                                                      codename=p.split(".")[1]) for p in perms]
        group.permissions.set(wanted)


def _after_migrate(sender, using="default", **kwargs):
    roles_ensure(using=using)


def connect() -> None:
    """Called by CampaignsConfig.ready: the roles follow every migrate of this app."""
    from django.apps import apps

    post_migrate.connect(_after_migrate, sender=apps.get_app_config("campaigns"),
                         dispatch_uid="campaigns.roles")

"""The lab is installed by the local and test settings only: the production settings neither list
it, route to it, nor import any of it."""
import json

from django.apps import apps
from django.urls import resolve

from lab import views
from testsupport.production import example_env, manage

SYNC_PATH = "/lab/campaigns/1/participations-sync"

# Run by manage.py shell under the production settings (django.setup() already done).
PROBE = """
import json, sys
from django.apps import apps
from django.urls import NoReverseMatch, Resolver404, get_resolver, resolve, reverse

def views_of(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from views_of(pattern.url_patterns)
        else:
            yield getattr(pattern.callback, "__module__", "")

resolver = get_resolver()
routed = sorted(set(views_of(resolver.url_patterns)))
try:
    resolve(%(path)r)
    resolved = True
except Resolver404:
    resolved = False
try:
    reverse("participation-sync", kwargs={"campaign_id": 1})
    reversed_ = True
except NoReverseMatch:
    reversed_ = False
print(json.dumps({"installed": apps.is_installed("lab"), "resolved": resolved, "reversed": reversed_,
                  "routed": routed, "imported": sorted(m for m in sys.modules if m.split(".")[0] == "lab")}))
""" % {"path": SYNC_PATH}


def test_production_settings_cannot_serve_or_import_the_lab():
    run = manage("shell", "-v", "0", "-c", PROBE, env=example_env())
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.strip().splitlines()[-1])

    assert found["installed"] is False
    assert found["resolved"] is False and found["reversed"] is False
    assert "campaigns.views" in found["routed"]  # the probe did walk the loaded URLconf
    assert not [module for module in found["routed"] if module.split(".")[0] == "lab"]
    assert found["imported"] == []


def test_test_settings_install_and_route_the_lab():
    assert apps.is_installed("lab")
    assert resolve(SYNC_PATH).func.view_class is views.ParticipationSyncView

"""The children the lab and the benchmarks start: they find the database, the broker and the
topics of the process that starts them, whatever settings module they load."""
import subprocess
import sys

import pytest

from lab.processes import project_env

pytestmark = pytest.mark.slow  # starts a Python process


def test_a_child_on_production_settings_uses_this_processs_topics(settings):
    """The benchmarks' web servers load production settings, whose default topic names differ
    from the embedded broker's: without being told, the web tier wrote where no consumer read."""
    settings.FIRSTCOME_TOPIC, settings.FIRSTCOME_DECISIONS_TOPIC = "tp.child-1", "td.child-1"
    env = project_env(DJANGO_SETTINGS_MODULE="campaign_site.settings.production",
                      DJANGO_SECRET_KEY="child-" + "k" * 50, DJANGO_ALLOWED_HOSTS="127.0.0.1")
    seen = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings as s; "
                               "print(s.FIRSTCOME_TOPIC, s.FIRSTCOME_DLQ_TOPIC, s.FIRSTCOME_DECISIONS_TOPIC)"],
        env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60)
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.split() == ["tp.child-1", settings.FIRSTCOME_DLQ_TOPIC, "td.child-1"]

"""The gunicorn worker class (campaign_site/server.py), in a real gunicorn."""
import signal

import psutil
import pytest

from campaign_site.tests.web import start_gunicorn
from conftest import poll

pytestmark = pytest.mark.slow


def test_workers_leave_when_their_master_is_killed(processes, child_env):
    web, _ = start_gunicorn(processes, child_env(), workers=2)
    workers = psutil.Process(web.pid).children()
    assert len(workers) == 2
    web.send(signal.SIGKILL)
    poll(lambda: not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers),
         timeout=15, message="orphaned workers gone")

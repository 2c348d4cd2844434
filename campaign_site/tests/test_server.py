"""The gunicorn worker class (campaign_site/server.py), in a real gunicorn."""
import re
import signal

import psutil
import pytest

from testsupport.polling import poll
from testsupport.web import call, start_gunicorn, workers

pytestmark = pytest.mark.slow


def all_gone(processes):
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)


def test_workers_leave_when_their_master_is_killed(processes, child_env):
    web, _ = start_gunicorn(processes, child_env(), workers=2)
    children = workers(web)
    assert len(children) == 2
    web.send(signal.SIGKILL)
    poll(lambda: all_gone(children),
         timeout=15, message="orphaned workers gone")


def test_a_quick_stop_of_the_master_stops_its_workers_at_once(processes, child_env):
    web, _ = start_gunicorn(processes, child_env(), workers=2)
    children = workers(web)
    web.send(signal.SIGINT)  # gunicorn's quick stop: SIGQUIT to the workers
    # Well inside graceful_timeout (20 s), after which the master would kill them anyway.
    poll(lambda: all_gone(children),
         timeout=8, message="workers stopped")
    poll(lambda: not web.alive(), timeout=5, message="the master gone")


@pytest.mark.django_db(transaction=True)
def test_the_access_log_keeps_the_fields_operators_match_on(processes, child_env, tmp_path):
    access_log = tmp_path / "access.log"
    _, base_url = start_gunicorn(processes, child_env(GUNICORN_ACCESS_LOG=str(access_log)), workers=1)
    status, _ = call("GET", f"{base_url}/api/campaigns/0?x=1",
                     headers={"X-Forwarded-For": "203.0.113.7", "X-Amzn-Trace-Id": "Root=1-abc",
                              "User-Agent": "probe/1"})
    assert status == 404
    poll(lambda: access_log.exists() and "trace=Root=1-abc" in access_log.read_text(), timeout=10,
         message="the access log line")
    [line] = [line for line in access_log.read_text().splitlines() if "Root=1-abc" in line]
    assert re.search(r'client=203\.0\.113\.7 peer=\S+ "GET /api/campaigns/0\?x=1 HTTP/1\.1" status=404 '
                     r'bytes=[1-9]\d* ms=\d+ ua="probe/1" trace=Root=1-abc rid=-$', line), line

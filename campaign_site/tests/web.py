"""gunicorn, started the way production starts it (gunicorn.conf.py), as a test's child process."""
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from conftest import poll
from streaming.embedded import free_port

BIN = Path(sys.executable).parent


def get(url, timeout=5, headers=None):
    """(status, JSON body or text) of a GET; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


def start_gunicorn(processes, env, *, workers=1):
    """Start gunicorn with the project's gunicorn.conf.py; return (process, base_url) once /healthz answers."""
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    web = processes(name="gunicorn", env=env,
                    args=[str(BIN / "python"), "-m", "gunicorn", "-c", str(settings.BASE_DIR / "gunicorn.conf.py"),
                          "campaign_site.wsgi"])
    base_url = f"http://127.0.0.1:{port}"

    def healthy():
        assert web.alive(), web.log_text()
        try:
            return get(f"{base_url}/healthz", timeout=1)[0] == 200
        except OSError:
            return False

    poll(healthy, timeout=30, message="gunicorn /healthz")
    return web, base_url

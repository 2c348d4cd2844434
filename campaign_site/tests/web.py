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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


_opener = urllib.request.build_opener(_NoRedirects)


def call(method, url, *, body=None, headers=None, timeout=5):
    """(status, JSON body or text) of one request; HTTP errors and redirects are answers."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, content = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, content = exc.code, exc.read()
    try:
        return status, json.loads(content)
    except ValueError:
        return status, content.decode(errors="replace")


def get(url, **kwargs):
    return call("GET", url, **kwargs)


def start_gunicorn(processes, env, *, workers=1):
    """Start gunicorn with the project's gunicorn.conf.py; return (process, base_url) once /healthz answers."""
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    web = processes(name="gunicorn", env=env,
                    args=[str(BIN / "python"), "-m", "gunicorn", "-c", str(settings.BASE_DIR / "gunicorn.conf.py")])
    base_url = f"http://127.0.0.1:{port}"

    def healthy():
        assert web.alive(), web.log_text()
        try:
            return get(f"{base_url}/healthz", timeout=1)[0] == 200
        except OSError:
            return False

    poll(healthy, timeout=30, message="gunicorn /healthz")
    return web, base_url

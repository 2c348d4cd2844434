"""gunicorn, started the way production starts it (gunicorn.conf.py), as a test's child process."""
import http.client
import json
import urllib.error
import urllib.request

import psutil
from prometheus_client.parser import text_string_to_metric_families

from lab.embedded import free_port
from lab.stack import gunicorn_command
from testsupport.identity import ACTING, bearer
from testsupport.polling import poll


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


_opener = urllib.request.build_opener(_NoRedirects)


# Whose each request id is, for the result lookups call() makes (testsupport.identity.ActingAs).
acting = ACTING


def acting_headers(url, body, headers):
    """`headers`, with the token of the participant the request names unless one is there."""
    headers = dict(headers or {})
    if not any(name.lower() == "authorization" for name in headers):
        user = acting.user_for(url, body)
        if user is not None:
            headers.update(bearer(user))
    return headers


def call(method, url, *, body=None, headers=None, timeout=5):
    """(status, JSON body or text) of one request, as the participant it names (ActingAs);
    HTTP errors and redirects are answers."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**({"Content-Type": "application/json"} if data else {}), **acting_headers(url, body, headers)}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, content = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, content = exc.code, exc.read()
    acting.saw(url, body, status, content)
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
    web = processes(name="gunicorn", env=env, args=gunicorn_command())
    base_url = f"http://127.0.0.1:{port}"

    def healthy():
        assert web.alive(), web.log_text()
        try:
            return get(f"{base_url}/healthz", timeout=1)[0] == 200
        except OSError:
            return False

    poll(healthy, timeout=30, message="gunicorn /healthz")
    return web, base_url


def workers(web):
    """The gunicorn master's worker processes."""
    return psutil.Process(web.pid).children()


def scrape_metrics(base_url):
    """A Prometheus /metrics page as {(sample name, sorted labels): value}."""
    text = urllib.request.urlopen(f"{base_url}/metrics", timeout=5).read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def metric_value(samples, name, **labels):
    """The sample with exactly these labels, None if the page has none."""
    return samples.get((name, tuple(sorted(labels.items()))))


def django_client_headers(headers):
    """Raw (name, value) headers as Django's test client takes them: (content type, extra), a
    repeated header joined with commas, as the ASGI-to-WSGI bridge in front of Django joins it."""
    joined = {}
    for name, value in headers:
        key = name.upper().replace("-", "_")
        key = key if key == "CONTENT_TYPE" else f"HTTP_{key}"
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined.pop("CONTENT_TYPE", None), joined


def request_with_headers(base_url, method, path, headers, body=b""):
    """One request through gunicorn with exactly these header lines, repeated ones included, and
    the named participant's token unless they hold an Authorization: (status, headers, body)."""
    headers = [*headers, *acting_headers(path, body, dict(headers)).items() - dict(headers).items()]
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in [*headers, *([("Content-Length", str(len(body)))] if body or method == "POST" else [])]:
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, dict(response.headers.items()), response.read()
    finally:
        connection.close()


def post_with_headers(base_url, path, body, headers):
    """POST through gunicorn with exactly these header lines, repeated ones included."""
    return request_with_headers(base_url, "POST", path, headers, body)


def raw_post(url, body, content_type="application/json", headers=None):
    """(status, headers, body bytes) of one POST of raw bytes, as the participant it names
    (ActingAs); HTTP errors are answers."""
    headers = {**({"Content-Type": content_type} if content_type else {}), **acting_headers(url, body, headers)}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()

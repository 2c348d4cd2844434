"""The access log line gunicorn wrote before the web tier moved to uvicorn workers, kept so the
ALB's logs can still be matched (trace) and slow requests found (ms). uvicorn's own line has no
headers or duration, and is off (campaign_site/server.py).

    client=<X-Forwarded-For> peer=<address> "POST /path HTTP/1.1" status=202 bytes=62 ms=3
    ua="k6/1.1.0" trace=<X-Amzn-Trace-Id>

On only where GUNICORN_ACCESS_LOG names a destination (the systemd unit: stdout, as JSON).
"""
import logging
import time

log = logging.getLogger("gunicorn.access")


class AccessLog:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        answer = {"status": 0, "bytes": 0}

        async def counting_send(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            headers = dict(scope["headers"])
            path = scope.get("raw_path") or scope["path"].encode()
            if scope.get("query_string"):
                path += b"?" + scope["query_string"]
            peer = scope.get("client") or ("-", 0)
            log.info('client=%s peer=%s "%s %s HTTP/%s" status=%s bytes=%s ms=%d ua="%s" trace=%s',
                     headers.get(b"x-forwarded-for", b"-").decode("latin-1"), peer[0], scope["method"],
                     path.decode("latin-1"), scope["http_version"], answer["status"] or "-", answer["bytes"],
                     (time.perf_counter() - started) * 1000, headers.get(b"user-agent", b"-").decode("latin-1"),
                     headers.get(b"x-amzn-trace-id", b"-").decode("latin-1"))

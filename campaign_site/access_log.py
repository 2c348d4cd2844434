"""The access log line gunicorn wrote before the web tier moved to uvicorn workers, kept so the
ALB's logs can still be matched (trace) and slow requests found (ms). uvicorn's own line has no
headers or duration, and is off (campaign_site/server.py).

    client=<X-Forwarded-For> peer=<address> "POST /path HTTP/1.1" status=202 bytes=62 ms=3
    ua="k6/1.1.0" trace=<X-Amzn-Trace-Id> rid=<request_id>

rid is the request id of an accepted participation (the 202's body, or the original contract's
200 envelope, whose message ends with it), "-" otherwise: the same id
the consumer's decision line and a dead letter's headers carry (docs/operations.md, "Following
one request"). It is read from the answer's body rather than a header of its own, so the fast path
(campaigns/ingest.py) and the DRF view, which answer with the same body, need not add one. The
JSON lines (GUNICORN_LOG_JSON) also carry it as the field request_id.

On only where GUNICORN_ACCESS_LOG names a destination (the systemd unit: stdout, as JSON).
"""
import logging
import re
import time

import orjson

log = logging.getLogger("gunicorn.access")
# A 202's body is {"request_id": ..., "status": "PENDING"}, the original contract's acceptance an
# envelope of about 150 bytes; more than this is not one.
MAX_ACCEPTED_BODY = 256
ACCEPTED_STATUSES = (200, 202)
ID_IN_MESSAGE = re.compile(r"request_id=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def request_id_of(body: bytes) -> str | None:
    """The request id an acceptance's body carries (native: its request_id; the original
    contract's envelope: the end of its message, campaigns.compat.views.accepted_message), None
    if it carries none."""
    try:
        answer = orjson.loads(body)
        request_id = answer.get("request_id")
        message = answer.get("message")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if isinstance(request_id, str):
        return request_id
    found = ID_IN_MESSAGE.search(message) if isinstance(message, str) else None
    return found[1] if found else None


class AccessLog:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        answer = {"status": 0, "bytes": 0}
        accepted = []  # an acceptance's body, where the request id is

        async def counting_send(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                answer["bytes"] += len(body)
                if (scope["method"] == "POST" and answer["status"] in ACCEPTED_STATUSES
                        and answer["bytes"] <= MAX_ACCEPTED_BODY):
                    accepted.append(body)
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            headers = dict(scope["headers"])
            path = scope.get("raw_path") or scope["path"].encode()
            if scope.get("query_string"):
                path += b"?" + scope["query_string"]
            peer = scope.get("client") or ("-", 0)
            request_id = request_id_of(b"".join(accepted)) if accepted else None
            log.info('client=%s peer=%s "%s %s HTTP/%s" status=%s bytes=%s ms=%d ua="%s" trace=%s rid=%s',
                     headers.get(b"x-forwarded-for", b"-").decode("latin-1"), peer[0], scope["method"],
                     path.decode("latin-1"), scope["http_version"], answer["status"] or "-", answer["bytes"],
                     (time.perf_counter() - started) * 1000, headers.get(b"user-agent", b"-").decode("latin-1"),
                     headers.get(b"x-amzn-trace-id", b"-").decode("latin-1"), request_id or "-",
                     extra={"request_id": request_id} if request_id else None)

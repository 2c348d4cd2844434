import json
from dataclasses import dataclass
from http import HTTPStatus

from django.conf import settings
from django.http import JsonResponse

# A refused body up to this size is read and thrown away before the answer: gunicorn closes the
# connection on unread data, and a client still sending would see a broken pipe, not the 413.
# Past it the connection is simply closed.
DRAIN_AT_MOST = 16 * 2**20


class RequestSizeLimitMiddleware:
    """Refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE with 413 and a JSON reason, before anything
    reads it.

    Django enforces that limit only where it reads the body itself (request.body, request.POST);
    DRF's JSON parser reads the stream on its own, so without this a 10 MB JSON body would be read
    and parsed whole before the serializer refused it, and the admin's form posts would get
    Django's HTML 400 page. A body without Content-Length (chunked) is read by neither Django nor
    DRF: it arrives as an empty body and is refused as such.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number", "code": "bad_request"}, status=400)
        if limit is not None and length > limit:
            if length <= DRAIN_AT_MOST:
                while request.read(2**16):
                    pass
            return JsonResponse({"detail": f"request body too large: {length} bytes (limit {limit})",
                                 "code": "request_too_large"}, status=413)
        return self.get_response(request)


@dataclass(frozen=True)
class HeadLimits:
    """gunicorn's limits on a request's head (gunicorn.conf.py: limit_request_line,
    limit_request_fields, limit_request_field_size; 0 is no limit, as in gunicorn). gunicorn's
    own parser enforces them; under uvicorn's workers campaign_site/server.py does."""

    line: int = 4094
    fields: int = 100
    field_size: int = 8190

    @classmethod
    def from_gunicorn(cls, cfg) -> "HeadLimits":
        return cls(line=cfg.limit_request_line, fields=cfg.limit_request_fields,
                   field_size=cfg.limit_request_field_size)

    def line_refusal(self, *, length: int) -> "HeadRefusal | None":
        if self.line and length > self.line:
            return HeadRefusal(414, "request_line_too_long",
                               f"request line too long: over {self.line} bytes")
        return None

    def field_refusal(self, *, count: int, size: int) -> "HeadRefusal | None":
        if self.fields and count > self.fields:
            return HeadRefusal(431, "too_many_header_fields",
                               f"too many header fields: over {self.fields}")
        if self.field_size and size > self.field_size:
            return HeadRefusal(431, "header_field_too_large",
                               f"header field too large: over {self.field_size} bytes")
        return None

    def head_refusal(self, *, received: int) -> "HeadRefusal | None":
        """For a head still incomplete after `received` bytes: the parser holds a field until it
        ends, so one endless field is refused on the bytes it has taken."""
        if self.line and self.fields and self.field_size:
            if received > self.line + self.fields * (self.field_size + 2) + 4:
                return HeadRefusal(431, "header_fields_too_large",
                                   "header fields too large: over "
                                   f"{self.fields} fields of {self.field_size} bytes")
        return None


@dataclass(frozen=True)
class HeadRefusal:
    status: int
    code: str
    detail: str

    def response(self, extra_headers=()) -> bytes:
        """The whole HTTP answer, sent before any application sees the request."""
        body = json.dumps({"detail": self.detail, "code": self.code}).encode()
        head = [f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}".encode(),
                *(name + b": " + value for name, value in extra_headers),
                b"content-type: application/json", b"content-length: %d" % len(body),
                b"connection: close"]
        return b"\r\n".join(head) + b"\r\n\r\n" + body

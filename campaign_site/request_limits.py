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

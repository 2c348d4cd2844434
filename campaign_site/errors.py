"""JSON bodies for errors raised outside DRF views (unknown URLs, crashes)."""
from django.http import JsonResponse


def not_found(request, exception=None):
    return JsonResponse({"detail": f"no such path: {request.path}", "code": "not_found"}, status=404)


def server_error(request):
    return JsonResponse({"detail": "internal error", "code": "server_error"}, status=500)


def bad_request(request, exception=None):
    """Django's own refusals before any view (a Host header it cannot accept, other suspicious
    operations) answer in the API's JSON shape too. Must not call request.get_host(): the host
    is what may have been refused."""
    return JsonResponse({"detail": "bad request: the request's headers were refused (e.g. its Host)",
                         "code": "bad_request"}, status=400)

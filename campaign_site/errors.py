"""JSON bodies for errors raised outside DRF views (unknown URLs, crashes)."""
from django.http import JsonResponse


def not_found(request, exception=None):
    return JsonResponse({"detail": f"no such path: {request.path}", "code": "not_found"}, status=404)


def server_error(request):
    return JsonResponse({"detail": "internal error", "code": "server_error"}, status=500)

from django.http import JsonResponse

from campaign_site import views


class HealthCheckMiddleware:
    """Answers /healthz and /readyz ahead of the rest of the stack.

    The load balancer's health checks come over plain HTTP with the instance's private IP as the
    Host header: ALLOWED_HOSTS would rightly refuse them (400) and SECURE_SSL_REDIRECT would
    answer 301, so they must be served before host validation and the HTTPS redirect. They
    touch no session, user or CSRF state.
    """

    routes = {"/healthz": views.healthz, "/readyz": views.readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.routes.get(request.path_info)
        if view is None:
            return self.get_response(request)
        return read_only_refusal(request) or view(request)


def read_only_refusal(request):
    """405 for anything but GET and HEAD on the paths answered ahead of the stack; None otherwise."""
    if request.method in ("GET", "HEAD"):
        return None
    response = JsonResponse({"detail": f"method {request.method} not allowed", "code": "method_not_allowed"},
                            status=405)
    response["Allow"] = "GET, HEAD"
    return response

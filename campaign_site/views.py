"""Health endpoints. The checks live in campaign_site.health; these only shape the answer."""
from django.http import JsonResponse

from campaign_site import health


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def healthz(request):
    """Liveness: the process answers. No dependency is checked, so a database outage never makes
    the orchestrator restart healthy web processes."""
    return _no_store(JsonResponse({"status": "ok"}))


def readyz(request):
    """Readiness: 200 when this process can serve a participation, 503 naming what fails."""
    report = health.readiness()
    status = "ready" if report["ready"] else "unavailable"
    return _no_store(JsonResponse({"status": status, "failing": report["failing"], "checks": report["checks"]},
                                  status=200 if report["ready"] else 503))

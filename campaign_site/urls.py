from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("campaigns.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("", include("monitoring.urls")),  # /dashboard/ and /api/monitoring/snapshot
    path("", include("django_prometheus.urls")),
]

handler404 = "campaign_site.errors.not_found"
handler500 = "campaign_site.errors.server_error"

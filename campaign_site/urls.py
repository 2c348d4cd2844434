from django.apps import apps
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from campaign_site.authentication import ThrottledAdminAuthenticationForm

# A sign-in refused by the failed sign-in throttle shows as a form error on the login page.
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("campaigns.compat.urls")),  # the original contract (docs/api.md), ahead of the native
    path("api/", include("campaigns.urls")),
    path("api/", include("stats.urls")),  # the statistics and the batch runs (docs/api.md)
    path("api/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),  # Swagger UI
    path("", include("monitoring.urls")),  # /dashboard/ and /api/monitoring/snapshot
]
# The lab (experiments) is installed by the local and test settings only: production has no route to it.
if apps.is_installed("lab"):
    urlpatterns.insert(0, path("lab/", include("lab.urls")))
    urlpatterns.insert(0, path("api/", include("lab.original_contract")))  # the original's load-test helpers

handler400 = "campaign_site.errors.bad_request"
handler404 = "campaign_site.errors.not_found"
handler500 = "campaign_site.errors.server_error"

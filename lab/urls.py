"""Lab endpoints, mounted at /lab/ only when the lab app is installed (campaign_site/urls.py)."""
from django.urls import path

from lab import views

urlpatterns = [
    path("campaigns/<int:campaign_id>/participations-sync", views.ParticipationSyncView.as_view(),
         name="participation-sync"),
]

"""The original contract's paths, included under /api/ ahead of the native ones
(campaign_site/urls.py). The lab (local and test settings) serves the two load-test helpers
(lab.original_contract, included ahead of these); elsewhere they answer a 404 envelope."""
from django.urls import path

from campaigns.compat import views

urlpatterns = [
    path("admin/campaigns", views.admin_campaigns, name="admin-campaigns-either-contract"),
    path("campaigns/<int:campaign_id>/participation", views.ParticipationView.as_view(),
         name="original-participation"),
    path("campaigns/<int:campaign_id>/status", views.CampaignStatusView.as_view(), name="original-campaign-status"),
    path("campaigns/<int:campaign_id>/participation-sync", views.LabOnlyView.as_view()),
    path("admin/test/participate-bulk", views.LabOnlyView.as_view()),
]

from django.urls import path

from stats import api

urlpatterns = [
    path("admin/stats/days/<str:day>", api.DayStatsView.as_view(), name="stats-day"),
    path("admin/stats/days/<str:day>/live", api.LiveDayStatsView.as_view(), name="stats-day-live"),
    path("admin/stats/campaigns/<int:campaign_id>", api.CampaignStatsView.as_view(), name="stats-campaign"),
    path("admin/stats/campaigns/<int:campaign_id>/fairness", api.FairnessView.as_view(), name="stats-fairness"),
    path("admin/stats/batch-runs", api.BatchRunsView.as_view(), name="stats-batch-runs"),
    path("admin/stats/batch-runs/<int:run_id>", api.BatchRunView.as_view(), name="stats-batch-run"),
]

from django.urls import path

from monitoring import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("api/monitoring/snapshot", views.SnapshotView.as_view(), name="monitoring-snapshot"),
]

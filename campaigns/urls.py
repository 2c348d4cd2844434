from django.urls import path

from campaigns import views

urlpatterns = [
    path("admin/campaigns", views.AdminCampaignsView.as_view(), name="admin-campaigns"),
    path("admin/campaigns/<int:campaign_id>/winners.csv", views.WinnersCSVView.as_view(), name="campaign-winners-csv"),
    path("admin/coupons/<str:code>/redeem", views.CouponRedeemView.as_view(), name="coupon-redeem"),
    path("campaigns/<int:campaign_id>", views.CampaignDetailView.as_view(), name="campaign-detail"),
    path("campaigns/<int:campaign_id>/participations", views.ParticipationCreateView.as_view(),
         name="participation-create"),
    # path, not str: a user id may contain "/" (sent percent-encoded), and its decision must be found.
    path("campaigns/<int:campaign_id>/participations/<path:user_id>",
         views.UserDecisionView.as_view(), name="user-decision"),
    path("participations/<str:request_id>", views.ParticipationResultView.as_view(),
         name="participation-result"),
]

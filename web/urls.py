from django.urls import path

from web import views
from web.auth import SignInView, SignOutView

app_name = "web"

company = "c/<slug:company_slug>/"
urlpatterns = [
    path("", views.Home.as_view(), name="home"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path(f"{company}", views.Rollup.as_view(), name="rollup"),
    path(f"{company}objectives/<int:pk>/", views.ObjectivePage.as_view(), name="objective"),
    path(f"{company}key-results/<int:pk>/", views.KeyResultPage.as_view(), name="key-result"),
    path(f"{company}epics/<int:pk>/", views.EpicPage.as_view(), name="epic"),
    path(f"{company}epics/<int:pk>/outcome/", views.EpicOutcomeForm.as_view(), name="epic-outcome"),
    path(f"{company}epics/<int:pk>/result/", views.EpicResultForm.as_view(), name="epic-result"),
    path(f"{company}my-work/", views.MyWorkPage.as_view(), name="my-work"),
    path(f"{company}insights/", views.InsightsPage.as_view(), name="insights"),
]

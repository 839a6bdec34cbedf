from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.api.views import ApiRootView, HealthView
from epics.api import urls as epics_urls
from insights.api import urls as insights_urls
from integrations.api import urls as integrations_urls
from okrs.api import urls as okrs_urls
from outcomes.api import urls as outcomes_urls

# Company data of every app is mounted below companies/<slug:company_slug>/.
company_routes = [
    *outcomes_urls.company_urlpatterns,
    *okrs_urls.company_urlpatterns,
    *epics_urls.company_urlpatterns,
    *integrations_urls.company_urlpatterns,
    *insights_urls.company_urlpatterns,
]

api_v1: list[URLPattern | URLResolver] = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("health/", HealthView.as_view(), name="health"),
    *outcomes_urls.urlpatterns,
    *integrations_urls.urlpatterns,
    path("companies/<slug:company_slug>/", include(company_routes)),
]

urlpatterns = [
    path("", include("web.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "v1"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

admin.site.site_header = "OKR Outcomes administration"
admin.site.site_title = "OKR Outcomes"

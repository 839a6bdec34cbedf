"""The service's routes plus ``bench/ping/``: what a DRF route costs with no authentication, no
permission table, no throttle and no database, the baseline the benchmark compares lists against.
Served only by the benchmark's server (bench/wsgi.py), never in production."""

from __future__ import annotations

from typing import Any, cast

from django.urls import URLPattern, URLResolver, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as service_urlpatterns


class PingView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns: list[URLPattern | URLResolver] = [path("bench/ping/", PingView.as_view(), name="bench-ping")]
urlpatterns += cast(list[URLPattern | URLResolver], service_urlpatterns)

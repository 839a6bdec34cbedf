"""The benchmark server's WSGI application: the service with the routes of ``bench.urls`` (its own plus a
trivial one to compare against). Served only by bench/api.py (``gunicorn bench.wsgi``), never in production."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from config.collector import tune_collector

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
settings.ROOT_URLCONF = "bench.urls"  # read on every request, so set after the application is made
get_resolver().url_patterns  # noqa: B018 - loaded before the collector is tuned, as config/wsgi.py does
tune_collector()

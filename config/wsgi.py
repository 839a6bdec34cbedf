import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from config.collector import tune_collector

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - load the routes and views now, so that the collector skips them too
tune_collector()

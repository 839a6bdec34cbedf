from django.apps import AppConfig


class WebConfig(AppConfig):
    """Server-rendered pages for people: roll-ups, epics, my work and the insights, over the same services."""

    name = "web"
    verbose_name = "Web pages"

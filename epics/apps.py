from django.apps import AppConfig


class EpicsConfig(AppConfig):
    name = "epics"

from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "outcomes"
    verbose_name = "Company and outcomes"

    def ready(self) -> None:
        from outcomes import audit  # noqa: F401  (connects the audit actor recorder)
        from outcomes.api import schema  # noqa: F401  (registers the API key auth scheme)

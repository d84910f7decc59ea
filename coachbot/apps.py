from django.apps import AppConfig


class CoachbotConfig(AppConfig):
    name = "coachbot"
    verbose_name = "coachbot"

    def ready(self) -> None:
        from coachbot import checks  # noqa: F401  (registers the system checks)

from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = "Booking intake"

    def ready(self) -> None:
        from intake import tasks

        tasks.connect_schedule_setup()

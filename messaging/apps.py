from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # Outbox handlers register themselves on import.
        from messaging import delivery, handlers  # noqa: F401
        from messaging.tasks import connect_schedule_setup

        connect_schedule_setup()

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks and notifications"

    def ready(self) -> None:
        from licensing import hooks

        # Importing `tasks` registers the tasks the outbox queues by name, in every process
        # (web processes too, not only the workers that discover them).
        from webhooks import outbox, tasks  # noqa: F401

        hooks.on_events_committed(outbox.events_committed)

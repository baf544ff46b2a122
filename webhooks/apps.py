from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks and notifications"

    def ready(self) -> None:
        from licensing import hooks
        from webhooks import outbox

        hooks.on_events_committed(outbox.events_committed)

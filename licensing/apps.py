from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_event_partitions(using: str, **kwargs: Any) -> None:
    """After every migrate, the coming months' partitions of the events table exist."""
    from licensing import partitions

    partitions.ensure(using=using)


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = "Licensing"

    def ready(self) -> None:
        post_migrate.connect(_ensure_event_partitions, sender=self)

"""WSGI entry point: `gunicorn -c portal/gunicorn.conf.py portal.wsgi:application`.

Client API calls (the hot path: activations, heartbeats, releases, status) go to a Django
handler built with `settings.CLIENT_API_MIDDLEWARE`; everything else to the full stack. Both
share the URLconf, the views and the signals that manage database connections.
"""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

from portal.paths import is_client_api

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class ClientAPIHandler(WSGIHandler):
    """Django's WSGI handler with the client API's short middleware list."""

    def load_middleware(self, is_async: bool = False) -> None:
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.CLIENT_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


portal = get_wsgi_application()
client_api = ClientAPIHandler()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    handler = client_api if is_client_api(environ.get("PATH_INFO", "")) else portal
    return handler(environ, start_response)

"""HTML to PDF with WeasyPrint, offline: the page's stylesheets come from the static files.

The HTML is rendered on a made-up origin (`BASE_URL`), and the only URLs it may load are the
portal's own static files under it, read through the staticfiles finders (the same files the
site serves, collected or not). Anything else (another host, `file:`, `data:`) is refused, so
rendering a PDF never reaches the network or the file system beyond `static/`, whatever text a
customer put in a name.

WeasyPrint needs Pango and HarfBuzz from the system (scripts/system-deps.sh installs them;
docs/operations.md). It is imported on first use, so a web node without them serves every
other page, and only a PDF answers 503.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import SuspiciousFileOperation

BASE_URL: Final = "https://portal.invalid/"


class PdfUnavailable(Exception):
    """WeasyPrint or its system libraries are missing on this machine."""


def static_file(url: str) -> Path | None:
    """The static file an URL under BASE_URL names, or None for anything else."""
    parts = urlsplit(url)
    prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    if f"{parts.scheme}://{parts.netloc}/" != BASE_URL or not parts.path.startswith(prefix):
        return None
    name = unquote(parts.path.removeprefix(prefix))
    if not name or ".." in Path(name).parts:
        return None
    found = finders.find(name)
    if isinstance(found, str):
        return Path(found)
    # A name only the collected files have (a hashed one, with a manifest storage).
    try:
        collected = Path(staticfiles_storage.path(name))
    except (NotImplementedError, SuspiciousFileOperation):
        return None
    return collected if collected.is_file() else None


def render(html: str) -> bytes:
    """The PDF of `html` (a whole document, its stylesheets linked from `{% static %}`)."""
    try:  # here, not at the top: it loads Pango, which only PDFs need
        import weasyprint
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(str(exc)) from exc

    class StaticFetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            path = static_file(url)
            if path is None:
                raise ValueError(f"not one of the portal's static files: {url}")
            content_type = "text/css" if path.suffix == ".css" else "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})

    document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=StaticFetcher())
    pdf: bytes = document.write_pdf()
    return pdf

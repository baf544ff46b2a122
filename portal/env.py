"""Strict helpers for reading settings from the environment.

A bad value raises ImproperlyConfigured naming the variable, so a typo in a deployment fails at
start-up instead of quietly falling back to a default.
"""

import os
from ipaddress import IPv4Network, IPv6Network, ip_network
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str) -> str:
    """An absolute http(s) URL (`https://portal.example.com`), returned without a trailing
    slash; empty or unset gives `default`."""
    raw = os.environ.get(name, "").strip() or default
    try:
        parts = urlsplit(raw)
        valid = (
            parts.scheme in {"http", "https"}
            and bool(parts.hostname)
            and not parts.query
            and not parts.fragment
            and parts.port != 0  # reading .port refuses a port that is not a number too
        )
    except ValueError:  # a malformed IPv6 address or port
        valid = False
    if not valid:
        raise ImproperlyConfigured(
            f"{name} must be an http(s) URL such as https://portal.example.com, got {raw!r}"
        )
    return raw.rstrip("/")


def env_networks(name: str) -> list[IPv4Network | IPv6Network]:
    """Comma-separated addresses or networks (`10.0.0.0/8, 192.0.2.7, ::1`); empty when unset."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks (10.0.0.0/8), got {item!r}"
            ) from None
    return networks


def env_secret(name: str, default: str = "") -> str:
    """A secret from `NAME`, or from the file named by `NAME_FILE` (Docker/Kubernetes secrets).

    Setting both is refused: which one wins would be a guess. The file's trailing newline is
    dropped; an unreadable or empty file is an error naming the variable.
    """
    file_name = os.environ.get(f"{name}_FILE", "").strip()
    if not file_name:
        return env_str(name, default)
    if name in os.environ:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    try:
        with open(file_name, encoding="utf-8") as secret_file:
            value = secret_file.read().rstrip("\r\n")
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE names a file that cannot be read: {exc}") from None
    if not value:
        raise ImproperlyConfigured(f"{name}_FILE names an empty file: {file_name}")
    return value

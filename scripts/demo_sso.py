"""Single sign-on in the demo (scripts/demo): Initech's people sign in through an OpenID Connect
provider of their own, the test suite's (tests/oidc_provider: django-oauth-toolkit, its own
SQLite database in var/demo-sso/).

Starts the provider on a free port, connects Initech to it as the account team's page would
(portal.sso.services.connection_save: discovery fetched and checked; domain initech.example;
the provider's `portal-admins` group makes admins), registers the portal as the provider's
client and one person, Peter, prints the login, and keeps the provider running until stopped
(TERM or INT, as scripts/demo does when it ends). Run after `manage.py demo`, with the
portal's environment (SITE_URL, and SSO_ALLOW_PRIVATE_ISSUERS=1: the provider is on 127.0.0.1).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CUSTOMER = "initech"
DOMAIN = "initech.example"
PERSON = {
    "username": "peter",
    "password": "provider-password-2026",
    "email": f"peter@{DOMAIN}",
    "groups": ["portal-admins"],
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.urls import reverse

    from licensing.models import Customer
    from licensing.services import Actor
    from portal.sso import rules, services
    from tests.servers import OidcProvider

    customer = Customer.objects.get(slug=CUSTOMER)
    workdir = ROOT / "var" / "demo-sso"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "oidc-provider.sqlite3").unlink(missing_ok=True)  # a fresh provider each time
    provider = OidcProvider(workdir)
    provider.start()

    def stop(*_: Any) -> None:
        provider.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        callback = os.environ["SITE_URL"].rstrip("/") + reverse(
            "openid_connect_callback", kwargs={"provider_id": rules.provider_id_for(customer)}
        )
        provider.setup(
            applications=[
                {
                    "client_id": "portal-demo",
                    "client_secret": "portal-demo-secret",
                    "redirect_uris": [callback],
                }
            ],
            users=[PERSON],
        )
        services.connection_save(
            customer=customer,
            issuer=provider.issuer,
            client_id="portal-demo",
            secret="portal-demo-secret",
            domains=DOMAIN,
            default_role="viewer",
            groups_claim="groups",
            admin_group="portal-admins",
            actor=Actor(None, "scripts/demo"),
        )
    except Exception:
        provider.stop()
        raise
    print(
        f"Single sign-on: {PERSON['email']} signs in to {customer.name} through its own"
        f" identity provider at {provider.url} (user {PERSON['username']}, password"
        f" {PERSON['password']}) and joins as an admin (docs/sso.md).",
        flush=True,
    )
    while True:
        signal.pause()


if __name__ == "__main__":
    main()

"""URLs that reach the portal's own network are refused when saved and at delivery time."""

import socket

import pytest
from django.core.exceptions import ValidationError

from portal.webhook_forms import EndpointForm
from webhooks import outbox, services, transport
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

REFUSED = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.5/hook",
    "http://192.168.1.10/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://[::1]/hook",
    "http://[fd00:ec2::254]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://localhost/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_url_cannot_be_saved(db, url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(ValidationError) as error:
        services.endpoint_create(customer=None, url=url)
    assert "url" in error.value.message_dict
    assert not WebhookEndpoint.objects.exists()


def test_form_shows_why_a_url_is_refused(db, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    form = EndpointForm({"url": "http://169.254.169.254/", "enabled": True})
    assert not form.is_valid()
    assert "link-local" in form.errors["url"][0]


def test_refusal_says_how_to_allow_local_testing(db, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(ValidationError) as error:
        services.endpoint_create(customer=None, url="http://127.0.0.1:8001/hook")
    assert error.value.message_dict["url"] == [
        "127.0.0.1 resolves to 127.0.0.1, a loopback, private, link-local or reserved address;"
        " webhooks cannot be sent there. For local testing, set"
        " WEBHOOKS_ALLOW_PRIVATE_URLS=1 on the portal."
    ]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "http://user:pw@example.com/x", "https:///nohost"]
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(transport.RefusedAddress):
        transport.check_url(url)


def test_public_addresses_are_allowed():
    import ipaddress

    assert transport.is_public_address(ipaddress.ip_address("93.184.216.34"))
    assert transport.is_public_address(ipaddress.ip_address("2606:4700::1111"))
    assert not transport.is_public_address(ipaddress.ip_address("64:ff9b::a00:1"))  # 10.0.0.1


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "localhost", "rebinding.example"]
)
def test_delivery_to_a_refused_address_never_sends_a_request(
    host, receiver, make_endpoint, settings, monkeypatch
):
    """Saved while allowed (or before DNS changed); refused after resolution at delivery."""
    port = receiver.url.split(":")[2].split("/")[0]
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(name, *args, **kwargs):
        # A name whose DNS answer now points at loopback (DNS rebinding).
        if name == "rebinding.example":
            name = "127.0.0.1"
        return real_getaddrinfo(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    endpoint = make_endpoint(f"http://{host}:{port}/hooks")
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    delivery = services.endpoint_send_test(endpoint=endpoint)
    outbox.deliver_due()

    assert receiver.requests == []
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert "cannot be sent there" in attempt.error or "does not resolve" in attempt.error
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING  # retried: the setting may change


def test_delivery_connects_to_the_checked_address_with_the_original_host(
    receiver, make_endpoint, monkeypatch
):
    port = receiver.url.split(":")[2].split("/")[0]
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda name, *a, **k: real_getaddrinfo(
            "127.0.0.1" if name == "hooks.example" else name, *a, **k
        ),
    )
    endpoint = make_endpoint(f"http://hooks.example:{port}/in?x=1")
    services.endpoint_send_test(endpoint=endpoint)
    outbox.deliver_due()
    assert receiver.requests[0].headers["host"] == f"hooks.example:{port}"
    assert receiver.requests[0].path == "/in?x=1"

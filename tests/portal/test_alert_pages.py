"""The alerts sections: customer admins choose thresholds, any member subscribes; the account
team keeps its own set on the entitlement's edit page."""

import pytest

from licensing import services
from licensing.models import AlertSubscription, AlertThreshold

pytestmark = pytest.mark.django_db


def _page(entitlement):
    return f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/"


def _alerts(entitlement):
    return _page(entitlement) + "alerts/"


def test_an_admin_adds_an_alert_at_80_percent(login, customer_admin, entitlement):
    client = login(customer_admin)
    empty = client.get(_page(entitlement)).content.decode()
    assert "No alerts yet. Add one below, e.g. at 80% of the entitled seats." in empty

    response = client.post(_alerts(entitlement), {"kind": "percent", "percent": "80"}, follow=True)

    assert response.redirect_chain == [(_page(entitlement) + "#alerts", 302)]
    page = response.content.decode()
    assert "Alert added: 80% of the entitled seats." in page
    assert '<td>80% of the entitled seats</td>\n        <td class="num">80</td>' in page
    (threshold,) = AlertThreshold.objects.all()
    assert (threshold.audience, threshold.kind, threshold.percent) == ("customer", "percent", 80)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "percent", "percent": ""}, "Choose a share from 1% to 200% of the seats."),
        ({"kind": "percent", "percent": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"kind": "red"}, "Select a valid choice. red is not one of the available choices."),
    ],
)
def test_a_threshold_that_makes_no_sense_is_refused(
    login, customer_admin, entitlement, data, message
):
    response = login(customer_admin).post(_alerts(entitlement), data, follow=True)

    assert message in response.content.decode()
    assert not AlertThreshold.objects.exists()


def test_the_same_threshold_twice_is_refused(login, customer_admin, entitlement):
    client = login(customer_admin)
    client.post(_alerts(entitlement), {"kind": "overdraft"})

    response = client.post(_alerts(entitlement), {"kind": "overdraft"}, follow=True)

    assert "There is a threshold at overdraft already." in response.content.decode()
    assert AlertThreshold.objects.count() == 1


def test_an_admin_removes_an_alert(login, customer_admin, entitlement):
    threshold = services.threshold_add(entitlement=entitlement, audience="customer", kind="limit")

    response = login(customer_admin).post(
        f"{_alerts(entitlement)}{threshold.pk}/remove", follow=True
    )

    assert "Alert removed: the limit." in response.content.decode()
    assert not AlertThreshold.objects.exists()


def test_viewers_subscribe_but_cannot_choose_thresholds(login, viewer, entitlement):
    services.threshold_add(entitlement=entitlement, audience="customer", kind="percent", percent=90)
    client = login(viewer)
    page = client.get(_page(entitlement)).content.decode()
    assert "90% of the entitled seats" in page
    assert "Add alert" not in page

    assert client.post(_alerts(entitlement), {"kind": "overdraft"}).status_code == 404
    subscribed = client.post(_alerts(entitlement) + "subscribe", {"subscribed": "on"}, follow=True)
    assert "You will be emailed when a threshold is crossed." in subscribed.content.decode()
    assert AlertSubscription.objects.filter(user=viewer, audience="customer").count() == 1
    assert 'id="id_subscribed_customer" checked' in subscribed.content.decode()
    off = client.post(_alerts(entitlement) + "subscribe", {}, follow=True)
    assert "You will not be emailed about these thresholds." in off.content.decode()
    assert not AlertSubscription.objects.exists()


def test_the_account_team_keeps_its_own_alerts(login, account_manager, customer_admin, entitlement):
    client = login(account_manager)
    edit = f"/team/entitlements/{entitlement.pk}/edit"
    response = client.post(
        f"/team/entitlements/{entitlement.pk}/alerts/",
        {"kind": "percent", "percent": "110"},
        follow=True,
    )
    assert response.redirect_chain == [(edit + "#alerts", 302)]
    assert "Account team alerts" in response.content.decode()
    assert '<td>110% of the entitled seats</td>\n        <td class="num">110</td>' in (
        response.content.decode()
    )
    client.post(f"/team/entitlements/{entitlement.pk}/alerts/subscribe", {"subscribed": "on"})
    assert AlertSubscription.objects.filter(user=account_manager, audience="vendor").count() == 1

    customer_page = login(customer_admin).get(_page(entitlement)).content.decode()
    assert "110% of the entitled seats" not in customer_page

"""Included twice from portal/urls.py: at team/webhooks/ (vendor-wide endpoints, staff) and at
c/<slug>/webhooks/ (one customer's endpoints, its admins); the views read `slug` to tell."""

from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_create, name="create"),
    path("<uuid:endpoint_id>/", views.endpoint_detail, name="detail"),
    path("<uuid:endpoint_id>/edit/", views.endpoint_edit, name="edit"),
    path("<uuid:endpoint_id>/delete/", views.endpoint_delete, name="delete"),
    path("<uuid:endpoint_id>/rotate/", views.endpoint_rotate, name="rotate"),
    path("<uuid:endpoint_id>/test/", views.endpoint_test, name="test"),
    path("<uuid:endpoint_id>/redeliver/", views.endpoint_redeliver_failed, name="redeliver_failed"),
    path(
        "<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/",
        views.delivery_detail,
        name="delivery",
    ),
    path(
        "<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/redeliver/",
        views.delivery_redeliver,
        name="delivery_redeliver",
    ),
]

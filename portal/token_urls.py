"""Account-team API token pages: /team/tokens/..., namespace `tokens`."""

from django.urls import path

from portal import token_views

app_name = "tokens"

urlpatterns = [
    path("", token_views.token_list, name="list"),
    path("new", token_views.token_create, name="create"),
    path("<uuid:token_id>/revoke", token_views.token_revoke, name="revoke"),
]

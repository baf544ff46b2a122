from django.contrib import admin
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(("licensing.api.urls", "api"), namespace="api")),
]

handler404 = "portal.views.not_found"
handler500 = "portal.views.server_error"

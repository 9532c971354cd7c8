"""The peer's URLs: django-helpdesk at the root (its REST API at ``/api/tickets/``)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]

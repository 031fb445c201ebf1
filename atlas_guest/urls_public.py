"""URLs served on the platform's own domain (localhost): the platform admin."""
from django.contrib import admin
from django.urls import path

from atlas_guest.urls import healthz
from messaging.urls import webhook_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    *webhook_urls,
]

"""URLs served on the platform's own domain (localhost): the platform admin."""
from django.contrib import admin
from django.urls import path

from atlas_guest.urls import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz),
]

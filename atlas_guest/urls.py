"""URLs served on a tenant's domain (e.g. sunset.localhost): the host back office, the API, the portal."""
from django.contrib import admin
from django.http import HttpResponse
from django.urls import path

from guests.api import GuestExport, GuestLifetimeValue
from insights.views import dashboard
from messaging.urls import tenant_urls as messaging_tenant_urls
from messaging.urls import webhook_urls


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="guest-experience-dashboard"),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("api/guests/<int:guest_id>/lifetime-value", GuestLifetimeValue.as_view(), name="guest-lifetime-value"),
    path("api/guests/<int:guest_id>/export", GuestExport.as_view(), name="guest-export"),
    *webhook_urls,
    *messaging_tenant_urls,
]

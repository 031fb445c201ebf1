"""URLs served on a tenant's domain (e.g. sunset.localhost): the host back office, the API, the portal."""
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from atlas_guest.api_urls import urlpatterns as api_urls
from insights.views import dashboard
from messaging.urls import tenant_urls as messaging_tenant_urls
from messaging.urls import webhook_urls


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="guest-experience-dashboard"),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    *api_urls,
    *webhook_urls,
    *messaging_tenant_urls,
    path("", include("intake.urls")),  # /calendar/<token>.ics, /stay/<token>
    path("", include("portal.urls")),  # /guest/<token>: tenant domains only
]
handler404 = "atlas_guest.api.not_found"  # JSON under /api/

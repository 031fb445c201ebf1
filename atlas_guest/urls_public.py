"""URLs served on the platform's own domain (localhost): the platform admin and its §11.2 metrics."""
from django.contrib import admin
from django.urls import path

from atlas_guest.urls import healthz
from insights.api import PlatformMetrics
from intake.demo import DEMO_FEED_PATH
from intake.views import demo_feed
from insights.views import platform_dashboard
from messaging.urls import webhook_urls

urlpatterns = [
    path("admin/platform-metrics/", admin.site.admin_view(platform_dashboard), name="platform-metrics"),
    path("api/platform/metrics", PlatformMetrics.as_view(), name="platform-metrics-api"),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path(DEMO_FEED_PATH.lstrip("/"), demo_feed, name="demo-feed"),  # the demo's sample Airbnb calendar (ATLAS_DEMO)
    *webhook_urls,
]
handler404 = "atlas_guest.api.not_found"  # JSON under /api/

"""The staff API's routes, on a tenant's domain."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from bookings.api import BookingViewSet
from coupons.api import ValidateCoupon
from guests.api import GuestExport, GuestLifetimeValue, GuestViewSet
from insights.api import Metrics
from operations.api import IncidentViewSet, TicketViewSet
from personalization.api import DirectQuote, GuestProfile, ImportGuestData, SemanticMetric, SemanticMetricList

router = DefaultRouter(trailing_slash=False)
router.register("bookings", BookingViewSet, basename="booking")
router.register("guests", GuestViewSet, basename="guest")
router.register("tickets", TicketViewSet, basename="ticket")
router.register("incidents", IncidentViewSet, basename="incident")

urlpatterns = [
    path("api/guests/<int:guest_id>/lifetime-value", GuestLifetimeValue.as_view(), name="guest-lifetime-value"),
    path("api/guests/<int:guest_id>/export", GuestExport.as_view(), name="guest-export"),
    path("api/coupons/validate", ValidateCoupon.as_view(), name="coupon-validate"),
    path("api/metrics", Metrics.as_view(), name="metrics"),
    path("api/personalization/import/<str:source>", ImportGuestData.as_view(), name="personalization-import"),
    path("api/personalization/guests/<int:guest_id>", GuestProfile.as_view(), name="personalization-guest"),
    path("api/personalization/quote", DirectQuote.as_view(), name="personalization-quote"),
    path("api/semantic/metrics", SemanticMetricList.as_view(), name="semantic-metrics"),
    path("api/semantic/metrics/<str:name>", SemanticMetric.as_view(), name="semantic-metric"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include(router.urls)),
]

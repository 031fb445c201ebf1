"""The listing's public links, on tenant domains."""
from django.urls import path

from intake import views
from intake.demo import DEMO_FEED_PATH

app_name = "intake"

urlpatterns = [
    path(DEMO_FEED_PATH.lstrip("/"), views.demo_feed, name="demo-feed"),
    path("calendar/<str:token>.ics", views.listing_calendar_view, name="listing-calendar"),
    path("stay/<str:token>", views.find_booking, name="find-booking"),
]

"""The listing's public links, on tenant domains."""
from django.urls import path

from intake import views

app_name = "intake"

urlpatterns = [
    path("calendar/<str:token>.ics", views.listing_calendar_view, name="listing-calendar"),
    path("stay/<str:token>", views.find_booking, name="find-booking"),
]

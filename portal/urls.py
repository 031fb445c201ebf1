"""The guest portal's URLs, served on tenant domains only (RA-GUEST-001 §8.2: `/guest/<token>`)."""
from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("guest/<str:token>", views.home, name="home"),
    path("guest/<str:token>/checkin", views.check_in, name="checkin"),
    path("guest/<str:token>/issue", views.report_issue, name="issue"),
    path("guest/<str:token>/damage", views.report_damage, name="damage"),
    path("guest/<str:token>/addon", views.request_addon, name="addon"),
    path("guest/<str:token>/review", views.review_page, name="review"),
    path("guest/<str:token>/review/submit", views.submit_review, name="submit-review"),
    path("guest/<str:token>/invoice", views.invoice, name="invoice"),
    path("guest/<str:token>/contact", views.complete_contact, name="contact"),
    path("guest/<str:token>/privacy", views.privacy, name="privacy"),
    path("guest/<str:token>/offline", views.offline_copy, name="offline"),
    path("guest/<str:token>/sw.js", views.service_worker, name="service-worker"),
]

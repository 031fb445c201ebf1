"""Reviews (RA-GUEST-001 §7.1–§7.2): one per booking, from the portal or entered by the host from an OTA."""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.services import locked_booking
from bookings.models import Booking, ReviewRequestStatus
from reviews.models import GuestReview, ReviewSource

LOW_RATING = 2  # §7.2 / issue: a rating of 2 or less alerts the host
COMMENT_MAX = 2000
SUB_RATINGS = ("cleanliness_rating", "communication_rating", "location_rating", "value_rating")


def _stars(value, field: str, *, required: bool) -> int | None:
    if value in (None, ""):
        if required:
            raise ValidationError({field: "Choose a rating from 1 to 5 stars."})
        return None
    try:
        stars = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Ratings go from 1 to 5 stars."}) from None
    if not 1 <= stars <= 5:
        raise ValidationError({field: "Ratings go from 1 to 5 stars."})
    return stars


@transaction.atomic
def submit_review(booking: Booking | int, *, overall_rating, cleanliness_rating=None, communication_rating=None,
                  location_rating=None, value_rating=None, comment: str = "", source: str = ReviewSource.PORTAL,
                  now: dt.datetime | None = None) -> GuestReview:
    """Store the booking's one review; the second attempt is refused in words (the database also refuses it).
    Ends the review reminders, tags HIGH_RATED guests, and alerts the host to a low rating."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    ratings = {"overall_rating": _stars(overall_rating, "overall_rating", required=True)}
    given = {"cleanliness_rating": cleanliness_rating, "communication_rating": communication_rating,
             "location_rating": location_rating, "value_rating": value_rating}
    ratings.update({field: _stars(value, field, required=False) for field, value in given.items()})
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise ValidationError({"comment": f"Keep the comment under {COMMENT_MAX} characters ({len(text)} now)."})
    if source == ReviewSource.PORTAL and booking.checked_out_at is None:
        raise ValidationError("You can review your stay after check-out.")
    if GuestReview.objects.filter(booking=booking).exists():
        raise ValidationError("A review for this stay has already been submitted. Thank you!")
    try:
        with transaction.atomic():
            review = GuestReview.objects.create(
                booking=booking, guest_id=booking.guest_id, property_id=booking.listing.property_id, comment=text,
                source=source, submitted_at=now, **ratings,
            )
    except IntegrityError:  # a double tap racing the check above
        raise ValidationError("A review for this stay has already been submitted. Thank you!") from None
    Booking.objects.filter(pk=booking.pk).update(review_request_status=ReviewRequestStatus.REVIEWED)
    _after_review(booking, review, now)
    return review


def _after_review(booking: Booking, review: GuestReview, now: dt.datetime) -> None:
    from guests.tags import on_review_submitted
    from operations.models import HostNotification, NotificationKind

    on_review_submitted(booking.guest_id, now)
    if review.overall_rating <= LOW_RATING:
        HostNotification.objects.get_or_create(
            dedupe_key=f"low-rating:{review.pk}",
            defaults={"kind": NotificationKind.LOW_RATING, "booking": booking, "created_at": now,
                      "title": f"{booking.guest.name} rated their stay {review.overall_rating}★: please follow up"},
        )


def enter_ota_review(booking: Booking | int, *, overall_rating, comment: str = "", now: dt.datetime | None = None) -> GuestReview:
    """§7.2 source MANUAL: the host copies a review left on Airbnb or Booking.com."""
    return submit_review(booking, overall_rating=overall_rating, comment=comment, source=ReviewSource.MANUAL, now=now)

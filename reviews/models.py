"""Guest reviews (RA-GUEST-001 §7.2)."""
from __future__ import annotations

from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from bookings.models import Booking, Property
from guests.models import Guest

STARS = [MinValueValidator(1, "Ratings go from 1 to 5 stars."), MaxValueValidator(5, "Ratings go from 1 to 5 stars.")]


class ReviewSource(models.TextChoices):
    PORTAL = "PORTAL", "Guest portal"
    MANUAL = "MANUAL", "Entered by host (OTA review)"


class ReviewStatus(models.TextChoices):
    SUBMITTED = "SUBMITTED", "Submitted"
    PUBLISHED = "PUBLISHED", "Published"
    FLAGGED = "FLAGGED", "Flagged"
    HIDDEN = "HIDDEN", "Hidden"


def _stars_between_1_and_5(field: str, optional: bool) -> models.CheckConstraint:
    in_range = Q(**{f"{field}__gte": 1, f"{field}__lte": 5})
    return models.CheckConstraint(
        condition=(Q(**{f"{field}__isnull": True}) | in_range) if optional else in_range,
        name=f"review_{field}_1_to_5",
    )


class GuestReview(models.Model):
    booking = models.OneToOneField(Booking, on_delete=models.CASCADE, related_name="review")
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="reviews")
    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="reviews")
    overall_rating = models.PositiveSmallIntegerField(validators=STARS)
    cleanliness_rating = models.PositiveSmallIntegerField(null=True, blank=True, validators=STARS)
    communication_rating = models.PositiveSmallIntegerField(null=True, blank=True, validators=STARS)
    location_rating = models.PositiveSmallIntegerField(null=True, blank=True, validators=STARS)
    value_rating = models.PositiveSmallIntegerField(null=True, blank=True, validators=STARS)
    comment = models.TextField(max_length=2000, blank=True, validators=[MaxLengthValidator(2000)])
    source = models.CharField(max_length=20, choices=ReviewSource.choices, default=ReviewSource.PORTAL)
    status = models.CharField(max_length=15, choices=ReviewStatus.choices, default=ReviewStatus.SUBMITTED)
    submitted_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            _stars_between_1_and_5("overall_rating", optional=False),
            _stars_between_1_and_5("cleanliness_rating", optional=True),
            _stars_between_1_and_5("communication_rating", optional=True),
            _stars_between_1_and_5("location_rating", optional=True),
            _stars_between_1_and_5("value_rating", optional=True),
            models.CheckConstraint(
                condition=~Q(status="PUBLISHED") | Q(published_at__isnull=False), name="review_published_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.overall_rating}★ for booking #{self.booking_id}"

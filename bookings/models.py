"""Properties, listings and bookings: the facts every lifecycle touchpoint is computed from."""
from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from guests.models import Guest
from guests.phones import normalized_or_unchanged, validate_phone

MONEY = {"max_digits": 12, "decimal_places": 2}


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a time zone. Use an IANA name such as Asia/Kolkata.")


class Property(models.Model):
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=500)
    contact_phone = models.CharField(max_length=20, validators=[validate_phone], help_text="Host line for guests, E.164.")
    time_zone = models.CharField(max_length=64, default="Asia/Kolkata", validators=[validate_time_zone])
    house_rules = models.TextField(blank=True)
    emergency_phone = models.CharField(
        max_length=20, blank=True, validators=[validate_phone], help_text="Property emergency number."
    )
    manager_phone = models.CharField(
        max_length=20, blank=True, validators=[validate_phone],
        help_text="Property manager's phone: emergencies and unacknowledged issues escalate here (§5.5).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "properties"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.contact_phone = normalized_or_unchanged(self.contact_phone)
        if self.emergency_phone:
            self.emergency_phone = normalized_or_unchanged(self.emergency_phone)
        if self.manager_phone:
            self.manager_phone = normalized_or_unchanged(self.manager_phone)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class ListingType(models.TextChoices):
    ENTIRE_HOME = "ENTIRE_HOME", "Entire home"
    PRIVATE_ROOM = "PRIVATE_ROOM", "Private room"
    SHARED_ROOM = "SHARED_ROOM", "Shared room"
    SERVICED_APARTMENT = "SERVICED_APARTMENT", "Serviced apartment"
    HOTEL_ROOM = "HOTEL_ROOM", "Hotel room"


class RoomStatus(models.TextChoices):
    VACANT_CLEAN = "VACANT_CLEAN", "Vacant, clean"
    VACANT_DIRTY = "VACANT_DIRTY", "Vacant, dirty"
    OCCUPIED = "OCCUPIED", "Occupied"
    OUT_OF_ORDER = "OUT_OF_ORDER", "Out of order"


class Listing(models.Model):
    property = models.ForeignKey(Property, on_delete=models.PROTECT, related_name="listings")
    name = models.CharField(max_length=200)
    listing_type = models.CharField(max_length=30, choices=ListingType.choices, default=ListingType.PRIVATE_ROOM)
    checkin_time = models.TimeField(default=dt.time(14, 0))
    checkout_time = models.TimeField(default=dt.time(11, 0))
    wifi_name = models.CharField(max_length=100, blank=True)
    wifi_password = models.CharField(max_length=100, blank=True)
    supports_early_checkin = models.BooleanField(default=False)
    # RA-GUEST-001 §5.4: add-on prices are set per listing; blank means "not offered".
    early_checkin_price = models.DecimalField(**MONEY, null=True, blank=True, validators=[MinValueValidator(0)])
    late_checkout_price = models.DecimalField(**MONEY, null=True, blank=True, validators=[MinValueValidator(0)])
    extra_cleaning_price = models.DecimalField(**MONEY, null=True, blank=True, validators=[MinValueValidator(0)])
    room_status = models.CharField(max_length=20, choices=RoomStatus.choices, default=RoomStatus.VACANT_CLEAN)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["property__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["property", "name"], name="listing_name_unique_per_property"),
            models.CheckConstraint(
                condition=Q(early_checkin_price__isnull=True) | Q(early_checkin_price__gte=0),
                name="listing_early_checkin_price_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(late_checkout_price__isnull=True) | Q(late_checkout_price__gte=0),
                name="listing_late_checkout_price_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(extra_cleaning_price__isnull=True) | Q(extra_cleaning_price__gte=0),
                name="listing_extra_cleaning_price_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.property.name}"


class ListingAccessInfo(models.Model):
    """RA-GUEST-001 §4.2: shown on the portal only within 24 h of check-in (GX-CI-001)."""

    listing = models.OneToOneField(Listing, on_delete=models.CASCADE, related_name="access_info")
    access_code = models.CharField(max_length=50, blank=True)
    access_instructions = models.TextField(max_length=2000, blank=True, validators=[MaxLengthValidator(2000)])
    parking_instructions = models.CharField(max_length=500, blank=True)
    emergency_contact_name = models.CharField(max_length=100, blank=True)
    emergency_contact_phone = models.CharField(max_length=20, blank=True, validators=[validate_phone])
    map_url = models.URLField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "listing access info"
        verbose_name_plural = "listing access info"

    def __str__(self) -> str:
        return f"Access info for {self.listing}"

    def clean(self) -> None:
        if self.emergency_contact_phone:
            self.emergency_contact_phone = normalized_or_unchanged(self.emergency_contact_phone)


class RecommendationCategory(models.TextChoices):
    RESTAURANT = "RESTAURANT", "Restaurant"
    CAFE = "CAFE", "Café"
    ATTRACTION = "ATTRACTION", "Attraction"
    TRANSPORT = "TRANSPORT", "Transport"
    SHOPPING = "SHOPPING", "Shopping"
    MEDICAL = "MEDICAL", "Medical"
    OTHER = "OTHER", "Other"


class PropertyRecommendation(models.Model):
    """RA-GUEST-001 §5.3: shown on the portal under "Things to Do / Nearby"."""

    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="recommendations")
    category = models.CharField(max_length=30, choices=RecommendationCategory.choices)
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    map_url = models.URLField(max_length=500, blank=True)
    distance_km = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    phone = models.CharField(max_length=20, blank=True, validators=[validate_phone])
    sort_order = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(distance_km__isnull=True) | Q(distance_km__gte=0), name="recommendation_distance_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BookingStatus(models.TextChoices):
    LEAD = "Lead", "Lead"
    CONFIRMED = "Confirmed", "Confirmed"
    CANCELLED = "Cancelled", "Cancelled"
    COMPLETED = "Completed", "Completed"


class BookingSource(models.TextChoices):
    DIRECT = "Direct", "Direct"
    AIRBNB = "Airbnb", "Airbnb"
    BOOKING_COM = "Booking.com", "Booking.com"
    AGODA = "Agoda", "Agoda"
    MAKEMYTRIP = "MakeMyTrip", "MakeMyTrip / Goibibo"
    OTHER = "Other", "Other"


OTA_SOURCES = (BookingSource.AIRBNB, BookingSource.BOOKING_COM, BookingSource.AGODA, BookingSource.MAKEMYTRIP,
               BookingSource.OTHER)


class PaymentStatus(models.TextChoices):
    UNPAID = "Unpaid", "Unpaid"
    PARTIAL = "Partial", "Partially paid"
    PAID = "Paid", "Paid"
    REFUNDED = "Refunded", "Refunded"


class ActionSource(models.TextChoices):
    """Who performed a check-in or check-out: the self check-in rate (§11.1) counts PORTAL."""

    PORTAL = "PORTAL", "Guest portal"
    STAFF = "STAFF", "Staff"
    AUTO = "AUTO", "Automatic"


class ReviewRequestStatus(models.TextChoices):
    NOT_STARTED = "NOT_STARTED", "Not started"
    REQUESTED = "REQUESTED", "Requested"
    REVIEWED = "REVIEWED", "Reviewed"
    EXHAUSTED = "EXHAUSTED", "Exhausted"


class Booking(models.Model):
    guest = models.ForeignKey(Guest, on_delete=models.PROTECT, related_name="bookings")
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(max_length=12, choices=BookingStatus.choices, default=BookingStatus.LEAD)
    source = models.CharField(max_length=20, choices=BookingSource.choices, default=BookingSource.DIRECT)
    checkin_date = models.DateField()
    checkout_date = models.DateField()
    guests_planned = models.PositiveSmallIntegerField(default=1)
    total_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    discount_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    final_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    amount_received = models.DecimalField(**MONEY, default=Decimal("0"))
    payment_status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_via = models.CharField(max_length=10, choices=ActionSource.choices, blank=True)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    checked_out_via = models.CharField(max_length=10, choices=ActionSource.choices, blank=True)
    review_request_status = models.CharField(
        max_length=12, choices=ReviewRequestStatus.choices, default=ReviewRequestStatus.NOT_STARTED
    )
    # Intake: the booking's id where it came from (an OTA's reservation code or calendar UID, a PMS booking
    # number); with the source it is unique, so a feed, a file or an API retry never books a stay twice.
    external_reference = models.CharField(max_length=200, blank=True)
    # A calendar booking arrives without the guest's phone or email: no message can go until the guest
    # completes their contact on the portal (intake.contact), which starts the guest's message sequence.
    contact_needed = models.BooleanField(default=False)
    expected_arrival_time = models.TimeField(null=True, blank=True)
    # RA-GUEST-001 §7.7: the referral code the guest booked with.
    referral_code = models.CharField(max_length=20, null=True, blank=True)
    applied_coupon = models.ForeignKey(
        "coupons.GuestCoupon", null=True, blank=True, on_delete=models.PROTECT, related_name="redeemed_bookings"
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-checkin_date", "-id"]
        permissions = [("view_financials", "Can see booking amounts, payments and coupons")]  # §10.6: owner only
        constraints = [
            models.CheckConstraint(condition=Q(checkout_date__gt=F("checkin_date")), name="booking_checkout_after_checkin"),
            models.CheckConstraint(condition=Q(guests_planned__gte=1), name="booking_guests_at_least_1"),
            models.CheckConstraint(condition=Q(total_amount__gte=0), name="booking_total_gte_0"),
            models.CheckConstraint(condition=Q(discount_amount__gte=0), name="booking_discount_gte_0"),
            models.CheckConstraint(condition=Q(discount_amount__lte=F("total_amount")), name="booking_discount_lte_total"),
            models.CheckConstraint(
                condition=Q(final_amount=F("total_amount") - F("discount_amount")), name="booking_final_is_total_less_discount"
            ),
            models.CheckConstraint(condition=Q(amount_received__gte=0), name="booking_received_gte_0"),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True) | Q(checked_in_at__isnull=False),
                name="booking_checkout_needs_checkin",
            ),
            models.CheckConstraint(
                condition=Q(checked_in_at__isnull=True) | ~Q(checked_in_via=""), name="booking_checkin_has_source"
            ),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True) | ~Q(checked_out_via=""), name="booking_checkout_has_source"
            ),
            models.UniqueConstraint(fields=["source", "external_reference"], condition=~Q(external_reference=""),
                                    name="booking_external_reference_unique_per_source"),
            models.UniqueConstraint(fields=["listing", "external_reference"], condition=~Q(external_reference=""),
                                    name="booking_external_reference_unique_per_listing"),
        ]
        indexes = [
            models.Index(fields=["status", "checkin_date"], name="booking_status_checkin_idx"),
            models.Index(fields=["guest", "status"], name="booking_guest_status_idx"),
            models.Index(fields=["listing", "checkin_date"], name="booking_listing_checkin_idx"),
            models.Index(fields=["checkin_date"], condition=Q(contact_needed=True), name="booking_contact_needed_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.guest} {self.checkin_date:%d %b %Y}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.checkin_date and self.checkout_date and self.checkout_date <= self.checkin_date:
            errors["checkout_date"] = "Check-out must be after check-in."
        if self.guests_planned is not None and self.guests_planned < 1:
            errors["guests_planned"] = "A booking needs at least 1 guest."
        for field in ("total_amount", "discount_amount", "amount_received"):
            value = getattr(self, field)
            if value is not None and value < 0:
                errors[field] = "Amounts cannot be negative."
        if (
            self.total_amount is not None
            and self.discount_amount is not None
            and self.discount_amount > self.total_amount
        ):
            errors["discount_amount"] = "The discount cannot exceed the total."
        if errors:
            raise ValidationError(errors)
        if self.total_amount is not None and self.discount_amount is not None:
            self.final_amount = self.total_amount - self.discount_amount

    @property
    def nights(self) -> int:
        return (self.checkout_date - self.checkin_date).days

    @property
    def balance_due(self) -> Decimal:
        return max(self.final_amount - self.amount_received, Decimal("0"))

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return self.listing.property.tz

    def local_checkin_at(self) -> dt.datetime:
        """Check-in date and the listing's check-in time in the property's zone, as an aware datetime."""
        return dt.datetime.combine(self.checkin_date, self.listing.checkin_time, tzinfo=self.tz)

    def local_checkout_at(self) -> dt.datetime:
        return dt.datetime.combine(self.checkout_date, self.listing.checkout_time, tzinfo=self.tz)


class PaymentMethod(models.TextChoices):
    UPI = "UPI", "UPI"
    CARD = "CARD", "Card (via gateway)"
    CASH = "CASH", "Cash"
    BANK_TRANSFER = "BANK_TRANSFER", "Bank transfer"
    OTA = "OTA", "Collected by OTA"


class Payment(models.Model):
    """A payment received for a booking. Card numbers never come here (the gateway holds them)."""

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    method = models.CharField(max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.UPI)
    reference = models.CharField(max_length=100, blank=True, help_text="Gateway or UPI reference, never a card number.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self) -> str:
        return f"₹{self.amount} for booking #{self.booking_id}"


class AddonCode(models.TextChoices):
    """RA-GUEST-001 §5.4."""

    LATE_CHECKOUT = "LATE_CHECKOUT", "Late check-out"
    EXTRA_CLEANING = "EXTRA_CLEANING", "Extra cleaning"
    AIRPORT_TRANSFER = "AIRPORT_TRANSFER", "Airport transfer"
    EARLY_CHECKIN = "EARLY_CHECKIN", "Early check-in"


class AddonRequestStatus(models.TextChoices):
    REQUESTED = "REQUESTED", "Requested"
    CONFIRMED = "CONFIRMED", "Confirmed"
    DECLINED = "DECLINED", "Declined"


class AddonRequest(models.Model):
    """GX-IS-003: informational in V1; the host confirms or declines by hand. Logged for analytics."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="addon_requests")
    code = models.CharField(max_length=20, choices=AddonCode.choices)
    status = models.CharField(max_length=10, choices=AddonRequestStatus.choices, default=AddonRequestStatus.REQUESTED)
    quoted_price = models.DecimalField(**MONEY, null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            # A double tap asks once: one open request per add-on per booking.
            models.UniqueConstraint(
                fields=["booking", "code"], condition=Q(status="REQUESTED"), name="addon_one_open_request"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_code_display()} for booking #{self.booking_id}"

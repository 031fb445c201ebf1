"""The public schema: who the hosts are, where they are served, and how each one wants the guest
experience to run (RA-GUEST-001 §3.3, §3.5, §7.3, §7.7, NFR 15)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django_tenants.models import DomainMixin, TenantMixin

from tenants.ranges import OFFSET_RANGES


class Tenant(TenantMixin):
    """A host business. `name` is the display name used as `{{host_name}}` in every message."""

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField("display name", max_length=200)
    owner_name = models.CharField(max_length=200, blank=True)
    coupon_prefix = models.CharField(
        max_length=10,
        default="ATLAS",
        validators=[RegexValidator(r"^[A-Z0-9]{2,10}$", "Use 2–10 capital letters or digits, e.g. SUNSET.")],
        help_text="Starts every coupon code, e.g. SUNSET10-X7K9M2.",
    )
    direct_booking_url = models.URLField(blank=True, help_text="Where guests book direct; used in post-stay messages.")
    logo = models.FileField(upload_to="logos/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def host_name(self) -> str:
        return self.name or self.owner_name


class Domain(DomainMixin):
    pass


def _range_validators(field: str):
    low, high = OFFSET_RANGES[field]
    return [
        MinValueValidator(low, f"Must be between {low} and {high} days."),
        MaxValueValidator(high, f"Must be between {low} and {high} days."),
    ]


class DiscountType(models.TextChoices):
    PERCENT = "PERCENT", "Percent"
    FLAT = "FLAT", "Flat amount (₹)"


_USE_FLAG = {"room_setup": "room_setup", "upsell": "upsells", "recommendations": "recommendations",
             "pricing": "pricing", "proactive": "proactive"}


class TenantGuestExperienceConfig(models.Model):
    """One row per tenant. Offsets are in days before the check-in date; their ranges are the spec's."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="guest_experience_config")

    # RA-GUEST-001 §3.3
    welcome_offset_days = models.PositiveSmallIntegerField(default=7, validators=_range_validators("welcome_offset_days"))
    payment_reminder_offset_days = models.PositiveSmallIntegerField(
        default=3, validators=_range_validators("payment_reminder_offset_days")
    )
    checkin_instructions_offset_days = models.PositiveSmallIntegerField(
        default=1, validators=_range_validators("checkin_instructions_offset_days")
    )
    house_rules_offset_days = models.PositiveSmallIntegerField(
        default=2, validators=_range_validators("house_rules_offset_days")
    )

    # RA-GUEST-001 §3.5: messages go out only between these local times.
    quiet_hours_end = models.TimeField("messages allowed from", default=dt.time(8, 0))
    quiet_hours_start = models.TimeField("messages allowed until", default=dt.time(21, 0))

    # RA-GUEST-001 §7.3
    coupon_discount_type = models.CharField(max_length=10, choices=DiscountType.choices, default=DiscountType.PERCENT)
    coupon_discount_value = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("10"), validators=[MinValueValidator(Decimal("0.01"))]
    )
    coupon_validity_months = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(1, "At least 1 month."), MaxValueValidator(36, "At most 36 months.")]
    )
    coupon_max_uses = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1, "At least 1 use.")])
    coupon_min_booking_amount = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )

    # RA-GUEST-001 §7.7: both the referrer and the referred guest get a discount.
    referral_discount_type = models.CharField(max_length=10, choices=DiscountType.choices, default=DiscountType.PERCENT)
    referrer_discount_value = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("10"), validators=[MinValueValidator(Decimal("0"))]
    )
    referee_discount_value = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("10"), validators=[MinValueValidator(Decimal("0"))]
    )

    # Beyond the spec (messaging issue): a time-critical WhatsApp message not delivered within this many
    # minutes also goes out by SMS, so a guest is never at the door without the code.
    undelivered_fallback_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(240)]
    )

    # Sender settings: blank means the platform's own number, sender id and address.
    whatsapp_phone_id = models.CharField("WhatsApp phone number id", max_length=40, blank=True)
    sms_sender_id = models.CharField("SMS sender id", max_length=11, blank=True)
    email_from_address = models.EmailField(blank=True)
    email_from_name = models.CharField(max_length=100, blank=True, help_text="Defaults to the host's display name.")

    # NFR 15: one switch per module.
    pre_arrival_enabled = models.BooleanField(default=True)
    check_in_enabled = models.BooleanField(default=True)
    in_stay_enabled = models.BooleanField(default=True)
    check_out_enabled = models.BooleanField(default=True)
    post_stay_enabled = models.BooleanField(default=True)
    portal_enabled = models.BooleanField(default=True)
    personalization_enabled = models.BooleanField(
        default=False, help_text="The master switch of the personalization module; each use below has its own."
    )
    # Personalization design: the five uses, each switchable (they act only when the module is on).
    personalize_room_setup = models.BooleanField("pre-arrival room setup", default=True)
    personalize_upsells = models.BooleanField("personalized upsells", default=True)
    personalize_recommendations = models.BooleanField("custom recommendations", default=True)
    personalize_pricing = models.BooleanField("dynamic pricing", default=True)
    personalize_proactive = models.BooleanField("proactive service", default=True)
    # Dynamic pricing never leaves the bounds the host sets (same unit as the coupon: percent or ₹).
    personalized_coupon_min_value = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Lowest coupon value personalization may give; empty: the coupon value above.",
    )
    personalized_coupon_max_value = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Highest coupon value personalization may give; empty: the coupon value above.",
    )
    direct_quote_max_discount_percent = models.DecimalField(
        max_digits=4, decimal_places=1, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("30"))],
        help_text="The most a loyal guest's direct-booking quote may be below the listed rate (0 to 30 %).",
    )
    # Booking intake: how often each listing's OTA calendar feeds are read (issue 15: 15–180 minutes).
    calendar_poll_minutes = models.PositiveSmallIntegerField(
        "calendar sync every (minutes)", default=30,
        validators=[MinValueValidator(15, "At least every 15 minutes."), MaxValueValidator(180, "At most every 180 minutes.")],
        help_text="How often the Airbnb, Booking.com and other calendar links of your listings are read.",
    )
    id_verification_enabled = models.BooleanField(
        "ID verification request", default=False, help_text="Future-ready (§3.1 #8); off in V1."
    )

    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "guest experience config"
        constraints = [
            models.CheckConstraint(
                condition=Q(welcome_offset_days__gte=1, welcome_offset_days__lte=14), name="cfg_welcome_offset_range"
            ),
            models.CheckConstraint(
                condition=Q(payment_reminder_offset_days__gte=1, payment_reminder_offset_days__lte=7),
                name="cfg_payment_offset_range",
            ),
            models.CheckConstraint(
                condition=Q(checkin_instructions_offset_days__gte=1, checkin_instructions_offset_days__lte=3),
                name="cfg_checkin_offset_range",
            ),
            models.CheckConstraint(
                condition=Q(house_rules_offset_days__gte=1, house_rules_offset_days__lte=5),
                name="cfg_house_rules_offset_range",
            ),
            models.CheckConstraint(condition=Q(coupon_discount_value__gt=0), name="cfg_coupon_value_positive"),
            models.CheckConstraint(
                condition=~Q(coupon_discount_type="PERCENT") | Q(coupon_discount_value__lte=100),
                name="cfg_coupon_percent_max_100",
            ),
            models.CheckConstraint(condition=Q(coupon_max_uses__gte=1), name="cfg_coupon_max_uses_min_1"),
            models.CheckConstraint(
                condition=~Q(quiet_hours_end=models.F("quiet_hours_start")), name="cfg_quiet_hours_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(personalized_coupon_min_value__isnull=True) | Q(personalized_coupon_max_value__isnull=True)
                | Q(personalized_coupon_min_value__lte=models.F("personalized_coupon_max_value")),
                name="cfg_pz_coupon_bounds_ordered",
            ),
            models.CheckConstraint(
                condition=Q(direct_quote_max_discount_percent__gte=0, direct_quote_max_discount_percent__lte=30),
                name="cfg_pz_quote_discount_range",
            ),
            models.CheckConstraint(
                condition=Q(calendar_poll_minutes__gte=15, calendar_poll_minutes__lte=180), name="cfg_calendar_poll_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Guest experience config of {self.tenant}"

    def clean(self) -> None:
        if self.quiet_hours_end == self.quiet_hours_start:
            raise ValidationError({"quiet_hours_start": "The messaging window must not be empty: pick two different times."})
        if self.coupon_discount_type == DiscountType.PERCENT and self.coupon_discount_value > 100:
            raise ValidationError({"coupon_discount_value": "A percent discount cannot exceed 100."})
        low, high = self.personalized_coupon_min_value, self.personalized_coupon_max_value
        if low is not None and high is not None and low > high:
            raise ValidationError({"personalized_coupon_max_value": "The highest coupon value must not be below the lowest."})
        if self.coupon_discount_type == DiscountType.PERCENT and high is not None and high > 100:
            raise ValidationError({"personalized_coupon_max_value": "A percent discount cannot exceed 100."})
        if self.referral_discount_type == DiscountType.PERCENT:
            for field in ("referrer_discount_value", "referee_discount_value"):
                if getattr(self, field) > 100:
                    raise ValidationError({field: "A percent discount cannot exceed 100."})

    def personalizes(self, use: str) -> bool:
        """Whether a personalization use (personalization.models.Use) is on for this tenant."""
        return self.personalization_enabled and bool(getattr(self, f"personalize_{_USE_FLAG.get(use, use)}"))

    def module_enabled(self, module: str) -> bool:
        return bool(getattr(self, f"{module}_enabled"))


class TenantWorkIndex(models.Model):
    """When each tenant next has lifecycle work due (a schedule, an outbox event or a message retry).

    The scheduler's poll reads only this table, so a poll with nothing due costs one query however many
    tenants there are (GUIDE: Tenancy). Writers lower `next_due_at` in the same transaction as the rows
    they add; the tick raises it again after its work, holding the row lock (messaging/wakeups.py).
    """

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="work_index")
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "tenant work index"

    def __str__(self) -> str:
        return f"{self.tenant}: next work at {self.next_due_at or 'never'}"


class TenantFeedIndex(models.Model):
    """When each tenant's next calendar feed is due to be read (intake): the feed poll reads only this table,
    so a minute with no feed due costs one query however many tenants there are, as TenantWorkIndex does for
    messages. Kept apart from TenantWorkIndex so a feed poll never waits on the message tick's row lock."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="feed_index")
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "tenant feed index"

    def __str__(self) -> str:
        return f"{self.tenant}: next calendar read at {self.next_poll_at or 'never'}"


class ProviderRateWindow(models.Model):
    """Messages sent per sender and time window, shared by every worker on every machine: provider limits
    (WhatsApp: 80 messages/s per number, and a daily tier) are per sender number, not per tenant."""

    sender = models.CharField(max_length=60)
    window = models.CharField(max_length=10)  # "second" or "day"
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "window", "window_start"], name="provider_rate_window_unique")
        ]


class ProviderMessageRoute(models.Model):
    """Which tenant sent a provider's message id. Providers post delivery statuses to one platform URL;
    this finds the schema whose CommunicationLog the status belongs to (GX-CE-002)."""

    provider_message_id = models.CharField(max_length=200, primary_key=True)
    schema_name = models.CharField(max_length=63)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

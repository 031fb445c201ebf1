from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from atlas_guest.admin_base import ReadOnlyInline, TenantModelAdmin
from bookings import services
from bookings.lifecycle import stage_of
from bookings.models import (
    AddonRequest, Booking, Listing, ListingAccessInfo, Payment, Property, PropertyRecommendation,
)
from messaging.models import AutomationSchedule, CommunicationLog
from tenants import roles
from operations.models import ListingConsumable
from intake import services as intake_services
from intake.admin import CalendarFeedInline, save_feed_formset
from intake.models import CalendarFeed, FeedSource

MONEY_FIELDS = ("total_amount", "discount_amount", "final_amount", "amount_received", "payment_status", "applied_coupon")


def sees_money(request) -> bool:
    return roles.sees_money(request.user)


class RecommendationInline(admin.TabularInline):
    model = PropertyRecommendation
    extra = 0
    fields = ("category", "name", "distance_km", "sort_order", "is_active")


@admin.register(Property)
class PropertyAdmin(TenantModelAdmin):
    list_display = ("name", "address", "contact_phone", "time_zone", "is_active")
    search_fields = ("name", "address")
    inlines = [RecommendationInline]


class AccessInfoInline(admin.StackedInline):
    model = ListingAccessInfo
    extra = 0


class ConsumableInline(admin.TabularInline):
    model = ListingConsumable
    extra = 0


@admin.register(Listing)
class ListingAdmin(TenantModelAdmin):
    list_display = ("name", "property", "listing_type", "room_status", "checkin_time", "checkout_time", "supports_early_checkin")
    list_filter = ("property", "listing_type", "room_status")
    search_fields = ("name", "property__name")
    inlines = [AccessInfoInline, ConsumableInline, CalendarFeedInline]
    readonly_fields = ("ota_message", "calendar_export")

    @admin.display(description="Message for Airbnb / Booking.com")
    def ota_message(self, listing: Listing):
        """Issue 15: the one link a calendar booking's guest needs, in a text for the OTA's scheduled message."""
        if not listing.pk:
            return "Save the listing first."
        from tenants.current import current_tenant

        text = intake_services.ota_message_text(listing, current_tenant().host_name)
        return format_html(
            '<textarea readonly rows="5" cols="90" onclick="this.select()">{}</textarea><p class="help">Paste this into '
            "Airbnb › Messages › Scheduled messages (send: when a booking is confirmed) and Booking.com › Messages › "
            "Scheduled messages. Guests whose booking came from a calendar open it, find their stay and complete "
            "their check-in; their messages start then.</p>", text)

    @admin.display(description="This listing's calendar, for the OTAs")
    def calendar_export(self, listing: Listing):
        if not listing.pk:
            return "Save the listing first."
        rows = [("Every OTA", intake_services.calendar_export_url(listing))] + [
            (f"For {source.label} (leaves out its own stays)", intake_services.calendar_export_url(listing, source.value))
            for source in (FeedSource.AIRBNB, FeedSource.BOOKING_COM)]
        return format_html(
            "<dl>{}</dl><p class=\"help\">Import this link into each OTA's calendar (Airbnb › Calendar › Import), so "
            "dates booked elsewhere or blocked here are closed there too.</p>",
            format_html_join("", "<dt>{}</dt><dd><code>{}</code></dd>", rows))

    def save_formset(self, request, form, formset, change):
        if formset.model is CalendarFeed:
            save_feed_formset(formset)
        else:
            super().save_formset(request, form, formset, change)


@admin.register(ListingAccessInfo)
class AccessInfoAdmin(TenantModelAdmin):
    list_display = ("listing", "access_code", "map_url", "updated_at")
    search_fields = ("listing__name",)


@admin.register(PropertyRecommendation)
class RecommendationAdmin(TenantModelAdmin):
    list_display = ("name", "property", "category", "distance_km", "sort_order", "is_active")
    list_filter = ("property", "category", "is_active")
    search_fields = ("name",)


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    fields = ("amount", "method", "reference", "received_at")


class ScheduleInline(ReadOnlyInline):
    model = AutomationSchedule
    fields = ("event_type", "sequence", "recipient", "due_at", "status", "reason", "published_at")
    ordering = ("due_at",)


class MessageTimelineInline(ReadOnlyInline):
    """DoD 22: every message of the booking: event, channel, status, attempts, times. Never the body."""

    model = CommunicationLog
    fields = ("event_type", "recipient", "channel", "status", "attempt_count", "template_key", "created_at", "sent_at",
              "delivered_at", "read_at", "error_message")
    ordering = ("created_at",)
    verbose_name_plural = "message timeline"


class AddonInline(admin.TabularInline):
    model = AddonRequest
    extra = 0
    fields = ("code", "status", "quoted_price", "note", "requested_at")
    readonly_fields = ("requested_at",)


@admin.register(Booking)
class BookingAdmin(TenantModelAdmin):
    list_display = ("id", "guest", "listing", "checkin_date", "checkout_date", "status", "source", "stage",
                    "final_amount", "payment_status")
    list_filter = ("status", "contact_needed", "source", "payment_status", "listing__property")
    search_fields = ("guest__name", "guest__phone", "id", "external_reference")
    date_hierarchy = "checkin_date"
    list_select_related = ("guest", "listing__property")
    autocomplete_fields = ("guest",)
    readonly_fields = ("stage", "guest_tags", "guest_link", "contact_needed", "confirmed_at", "cancelled_at", "checked_in_at", "checked_in_via",
                       "checked_out_at", "checked_out_via", "review_request_status", "created_at", "updated_at")
    actions = ["confirm", "check_in", "check_out", "cancel", "start_messages"]

    def get_queryset(self, request):
        completed = Booking.objects.filter(guest_id=OuterRef("guest_id"), status="Completed").values("guest_id").annotate(
            n=Count("pk")).values("n")
        return super().get_queryset(request).annotate(completed_stays=Subquery(completed))

    def get_urls(self):
        from django.urls import path

        page = path("import/", self.admin_site.admin_view(self.import_view), name="bookings_booking_import")
        return [page, *super().get_urls()]

    def import_view(self, request):
        """Issue 15 §3: a PMS export, previewed row by row, then imported (intake/import_admin.py)."""
        from intake.import_admin import import_view

        return import_view(self, request)

    import_view.csrf_exempt = True  # the page sets its upload handler first, then checks CSRF itself

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return shown if sees_money(request) else [f for f in shown if f not in MONEY_FIELDS]

    def get_list_filter(self, request):
        shown = super().get_list_filter(request)
        return shown if sees_money(request) else [f for f in shown if f not in MONEY_FIELDS]  # nor filter by them

    def lookup_allowed(self, lookup, value, request=None):
        if request is not None and not sees_money(request) and lookup.split("__")[0] in MONEY_FIELDS:
            return False  # ?payment_status=Paid in the URL would sort bookings by what was paid
        return super().lookup_allowed(lookup, value, request)

    def get_fields(self, request, obj=None):
        fields = ["guest", "listing", "status", "source", "external_reference", "checkin_date", "checkout_date",
                  "guests_planned", "expected_arrival_time", *MONEY_FIELDS, "referral_code", "notes", *self.readonly_fields]
        return fields if sees_money(request) else [f for f in fields if f not in MONEY_FIELDS]

    def get_inlines(self, request, obj):
        inlines = [AddonInline, ScheduleInline]
        if request.user.has_perm("messaging.view_communicationlog"):
            inlines.append(MessageTimelineInline)
        if sees_money(request):
            inlines.insert(0, PaymentInline)
        return inlines

    @admin.display(description="Stage")
    def stage(self, booking: Booking) -> str:
        if not booking.pk:
            return "—"
        completed = getattr(booking, "completed_stays", None) or 0
        return stage_of(booking, timezone.now(), completed_stays=completed).label

    @admin.display(description="Guest's portal link")
    def guest_link(self, booking: Booking):
        """Issue 15: the link to send a calendar booking's guest by hand (it opens "Complete your check-in")."""
        if not booking.pk or booking.status != "Confirmed":
            return "—"
        link = intake_services.booking_link(booking)
        note = " — the guest has not completed their contact yet: no message can go" if booking.contact_needed else ""
        return format_html('<code>{}</code>{}', link, note) if link else "—"

    @admin.display(description="Guest tags")
    def guest_tags(self, booking: Booking) -> str:
        return ", ".join(booking.guest.tags.values_list("tag", flat=True)) or "—" if booking.pk else "—"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new booking goes through the service, so a confirmed one schedules its lifecycle (one path).
        fields = {f: form.cleaned_data[f] for f in form.cleaned_data if f in {x.name for x in Booking._meta.fields}}
        confirm = fields.pop("status", "Lead") == "Confirmed"
        created = services.create_booking(confirm=confirm, **fields)
        obj.pk = created.pk

    def _run(self, request, queryset, action, done: str) -> None:
        ok = 0
        for booking in queryset:
            try:
                action(booking)
                ok += 1
            except ValidationError as exc:
                self.message_user(request, f"Booking #{booking.pk}: {' '.join(exc.messages)}", messages.ERROR)
        if ok:
            self.message_user(request, f"{ok} booking(s) {done}.", messages.SUCCESS)

    @admin.action(description="Confirm (starts the guest's message sequence)")
    def confirm(self, request, queryset):
        self._run(request, queryset, services.confirm_booking, "confirmed")

    @admin.action(description="Check in")
    def check_in(self, request, queryset):
        self._run(request, queryset, lambda b: services.check_in_guest(b, via="STAFF"), "checked in")

    @admin.action(description="Check out (creates the turnover task)")
    def check_out(self, request, queryset):
        self._run(request, queryset, lambda b: services.check_out_guest(b, via="STAFF"), "checked out")

    @admin.action(description="Start messages (the guest's phone or email is now on their guest page)")
    def start_messages(self, request, queryset):
        from intake.contact import contact_entered_by_host

        self._run(request, queryset.filter(contact_needed=True),
                  lambda b: contact_entered_by_host(b, actor=f"user:{request.user.pk}"), "started")

    @admin.action(description="Cancel (cancels pending messages)")
    def cancel(self, request, queryset):
        self._run(request, queryset, services.cancel_booking, "cancelled")


@admin.register(Payment)
class PaymentAdmin(TenantModelAdmin):
    list_display = ("booking", "amount", "method", "reference", "received_at")
    list_filter = ("method",)
    search_fields = ("booking__id", "reference")


@admin.register(AddonRequest)
class AddonRequestAdmin(TenantModelAdmin):
    list_display = ("booking", "code", "status", "quoted_price", "requested_at")
    list_filter = ("code", "status")

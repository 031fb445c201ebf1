from django.contrib import admin
from django.utils import timezone

from atlas_guest.admin_base import ReadOnlyInline, TenantModelAdmin
from bookings.models import Booking
from guests.models import Guest, GuestConsent, GuestTag, TagAppliedBy
from guests.selectors import lifetime_value
from messaging.models import CommunicationLog
from tenants.roles import is_owner, sees_money


class TagInline(admin.TabularInline):
    model = GuestTag
    extra = 1
    fields = ("tag", "value", "applied_by", "applied_at")
    readonly_fields = ("applied_by", "applied_at")

    def has_delete_permission(self, request, obj=None):
        return False  # tags are additive (GX-PS-003)


class ConsentInline(ReadOnlyInline):
    model = GuestConsent
    fields = ("channel", "marketing", "status", "source", "granted_at", "revoked_at")
    show_change_link = False


class BookingInline(ReadOnlyInline):
    model = Booking
    fields = ("checkin_date", "checkout_date", "listing", "status", "source")
    ordering = ("-checkin_date",)


class MessageHistoryInline(ReadOnlyInline):
    model = CommunicationLog
    fields = ("created_at", "booking", "event_type", "channel", "status", "attempt_count")
    ordering = ("-created_at",)
    verbose_name_plural = "message history"
    fk_name = "guest"


@admin.register(Guest)
class GuestAdmin(TenantModelAdmin):
    list_display = ("name", "phone", "email", "tag_list", "referral_code", "created_at")
    search_fields = ("name", "phone", "email", "referral_code")
    list_filter = ("tags__tag",)
    readonly_fields = ("referral_code", "created_at", "anonymized_at", "whatsapp_last_inbound_at", "lifetime_value")
    inlines = [TagInline, ConsentInline, BookingInline]
    actions = ["anonymize"]

    def get_inlines(self, request, obj):
        inlines = list(self.inlines)
        if request.user.has_perm("messaging.view_communicationlog"):
            inlines.append(MessageHistoryInline)  # §9.4 per-guest history: managers and owners
        return inlines

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if not sees_money(request.user):
            fields = [f for f in fields if f != "lifetime_value"]  # §10.6: revenue is the owner's
        return fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not is_owner(request.user):
            actions.pop("anonymize", None)  # §10.5: owner only
        return actions

    @admin.action(description="Anonymize (name and contacts replaced; history kept for totals)")
    def anonymize(self, request, queryset):
        from guests.privacy import anonymize_guest

        for guest in queryset:
            anonymize_guest(guest.pk, actor=f"user:{request.user.pk}")
        self.message_user(request, f"{queryset.count()} guest(s) anonymized.")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description="Tags")
    def tag_list(self, guest: Guest) -> str:
        return ", ".join(t.tag for t in guest.tags.all())

    @admin.display(description="Lifetime value (§7.5)")
    def lifetime_value(self, guest: Guest) -> str:
        if not guest.pk:
            return "—"
        value = lifetime_value(guest.pk)
        return "; ".join(f"{k.replace('_', ' ')}: {v if v is not None else '—'}" for k, v in value.items())

    def save_formset(self, request, form, formset, change):
        for tag in formset.save(commit=False):
            if isinstance(tag, GuestTag) and not tag.pk:
                tag.applied_by, tag.applied_at = TagAppliedBy.MANUAL, timezone.now()
            tag.save()
        formset.save_m2m()


@admin.register(GuestConsent)
class ConsentAdmin(TenantModelAdmin):
    list_display = ("guest", "channel", "marketing", "status", "source", "granted_at", "revoked_at")
    list_filter = ("channel", "status", "marketing", "source")
    search_fields = ("guest__name", "guest__phone")
    readonly_fields = ("granted_at", "revoked_at", "ip_address")


@admin.register(GuestTag)
class TagAdmin(TenantModelAdmin):
    list_display = ("guest", "tag", "value", "applied_by", "applied_at")
    list_filter = ("tag", "applied_by")
    search_fields = ("guest__name", "tag")

from django.contrib import admin
from django.db import connection

from atlas_guest.admin_base import PublicModelAdmin, ReadOnlyMixin, on_tenant_domain
from tenants.models import Domain, ProviderMessageRoute, Tenant, TenantGuestExperienceConfig, TenantWorkIndex


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(PublicModelAdmin):
    list_display = ("name", "slug", "schema_name", "owner_name", "coupon_prefix", "created_at")
    search_fields = ("name", "slug", "owner_name")
    inlines = [DomainInline]

    def get_readonly_fields(self, request, obj=None):
        return ("schema_name",) if obj else ()


@admin.register(Domain)
class DomainAdmin(PublicModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)


@admin.register(TenantGuestExperienceConfig)
class ConfigAdmin(admin.ModelAdmin):
    """The platform admin sees every tenant's config; on a tenant's domain the host edits only their own."""

    list_display = ("tenant", "welcome_offset_days", "quiet_hours_end", "quiet_hours_start", "coupon_discount_value",
                    "pre_arrival_enabled", "portal_enabled", "personalization_enabled")
    fieldsets = [
        ("Pre-arrival timing (days before check-in)", {"fields": [
            "welcome_offset_days", "payment_reminder_offset_days", "checkin_instructions_offset_days", "house_rules_offset_days"]}),
        ("Quiet hours (property's local time)", {"fields": ["quiet_hours_end", "quiet_hours_start"]}),
        ("Direct-booking coupons", {"fields": [
            "coupon_discount_type", "coupon_discount_value", "coupon_validity_months", "coupon_max_uses", "coupon_min_booking_amount"]}),
        ("Referrals", {"fields": ["referral_discount_type", "referrer_discount_value", "referee_discount_value"]}),
        ("Senders", {"fields": ["whatsapp_phone_id", "sms_sender_id", "email_from_address", "email_from_name",
                                "undelivered_fallback_minutes"]}),
        ("Modules", {"fields": ["pre_arrival_enabled", "check_in_enabled", "in_stay_enabled", "check_out_enabled",
                                "post_stay_enabled", "portal_enabled", "personalization_enabled", "id_verification_enabled"]}),
        ("Personalization uses (with the module on, and only for guests who consented)", {"fields": [
            "personalize_room_setup", "personalize_upsells", "personalize_recommendations", "personalize_pricing",
            "personalize_proactive", "personalized_coupon_min_value", "personalized_coupon_max_value",
            "direct_quote_max_discount_percent"]}),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("tenant")
        return queryset.filter(tenant_id=connection.tenant.pk) if on_tenant_domain() else queryset

    def get_fieldsets(self, request, obj=None):
        if on_tenant_domain():
            return self.fieldsets
        return [("Tenant", {"fields": ["tenant"]}), *self.fieldsets]

    def has_add_permission(self, request):
        return not on_tenant_domain() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return not on_tenant_domain() and super().has_delete_permission(request, obj)


@admin.register(TenantWorkIndex)
class WorkIndexAdmin(ReadOnlyMixin, PublicModelAdmin):
    list_display = ("tenant", "next_due_at", "updated_at")


@admin.register(ProviderMessageRoute)
class RouteAdmin(ReadOnlyMixin, PublicModelAdmin):
    list_display = ("provider_message_id", "schema_name", "created_at")
    search_fields = ("provider_message_id",)

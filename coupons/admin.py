from django.contrib import admin, messages

from atlas_guest.admin_base import TenantModelAdmin
from coupons.models import CouponRedemption, CouponStatus, GuestCoupon


@admin.register(GuestCoupon)
class CouponAdmin(TenantModelAdmin):
    list_display = ("coupon_code", "guest", "discount_type", "discount_value", "status", "times_used", "max_uses",
                    "valid_until", "reason")
    list_filter = ("status", "discount_type", "reason")
    search_fields = ("coupon_code", "guest__name")
    actions = ["revoke"]

    @admin.action(description="Revoke")
    def revoke(self, request, queryset):
        done = queryset.filter(status=CouponStatus.ACTIVE).update(status=CouponStatus.REVOKED)
        self.message_user(request, f"{done} coupon(s) revoked.", messages.SUCCESS)


@admin.register(CouponRedemption)
class RedemptionAdmin(TenantModelAdmin):
    list_display = ("coupon", "booking", "discount_amount", "redeemed_at")

from django.contrib import admin

from atlas_guest.admin_base import ReadOnlyTenantAdmin
from portal.models import GuestPortalToken


@admin.register(GuestPortalToken)
class PortalTokenAdmin(ReadOnlyTenantAdmin):
    list_display = ("booking", "guest", "is_active", "expires_at", "last_accessed_at", "access_count")
    list_filter = ("is_active",)
    exclude = ("token", "token_hash")  # the link is the guest's key: not shown in the back office

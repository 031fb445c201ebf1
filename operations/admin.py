from django.contrib import admin, messages
from django.utils import timezone

from atlas_guest.admin_base import ReadOnlyTenantAdmin, TenantModelAdmin
from operations import services
from operations.models import (
    AuditLog, HostNotification, HousekeepingTask, Incident, InventoryItem, InventoryMovement, ListingConsumable,
    MaintenanceTicket,
)


class _IssueAdmin(TenantModelAdmin):
    list_filter = ("status", "severity")
    search_fields = ("description", "created_by", "booking__guest__name")
    readonly_fields = ("created_by", "created_at", "acknowledged_at", "resolved_at")
    actions = ["acknowledge", "resolve"]
    list_select_related = ("listing", "booking")

    @admin.action(description="Acknowledge")
    def acknowledge(self, request, queryset):
        done = sum(services.acknowledge_issue(issue) for issue in queryset)
        self.message_user(request, f"{done} acknowledged.", messages.SUCCESS)

    @admin.action(description="Resolve (tells the guest)")
    def resolve(self, request, queryset):
        done = sum(services.resolve_issue(issue) for issue in queryset)
        self.message_user(request, f"{done} resolved.", messages.SUCCESS)


@admin.register(MaintenanceTicket)
class TicketAdmin(_IssueAdmin):
    list_display = ("id", "ticket_type", "severity", "status", "listing", "booking", "created_by", "created_at", "resolved_at")
    list_filter = ("ticket_type", *_IssueAdmin.list_filter)


@admin.register(Incident)
class IncidentAdmin(_IssueAdmin):
    list_display = ("id", "incident_type", "severity", "status", "listing", "booking", "created_by", "created_at", "resolved_at")
    list_filter = ("incident_type", *_IssueAdmin.list_filter)


@admin.register(HousekeepingTask)
class HousekeepingAdmin(TenantModelAdmin):
    list_display = ("listing", "cleaning_type", "due_at", "status", "booking", "created_by")
    list_filter = ("cleaning_type", "status", "listing__property")
    date_hierarchy = "due_at"
    actions = ["mark_done"]

    @admin.action(description="Mark done")
    def mark_done(self, request, queryset):
        done = queryset.exclude(status="DONE").update(status="DONE", completed_at=timezone.now())
        self.message_user(request, f"{done} task(s) done.", messages.SUCCESS)


@admin.register(InventoryItem)
class InventoryAdmin(TenantModelAdmin):
    list_display = ("name", "property", "quantity_on_hand", "unit", "reorder_level", "needs_reorder")
    list_filter = ("property",)


@admin.register(ListingConsumable)
class ConsumableAdmin(TenantModelAdmin):
    list_display = ("listing", "item", "quantity_per_stay")


@admin.register(InventoryMovement)
class MovementAdmin(ReadOnlyTenantAdmin):
    list_display = ("item", "delta", "reason", "booking", "created_at")


@admin.register(HostNotification)
class NotificationAdmin(TenantModelAdmin):
    list_display = ("title", "kind", "booking", "created_at", "read_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    readonly_fields = ("kind", "title", "booking", "dedupe_key", "created_at")
    actions = ["mark_read"]

    @admin.action(description="Mark read")
    def mark_read(self, request, queryset):
        queryset.filter(read_at__isnull=True).update(read_at=timezone.now())


@admin.register(AuditLog)
class AuditAdmin(ReadOnlyTenantAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object_id", "booking", "ip_address")
    list_filter = ("action",)
    search_fields = ("actor", "action", "object_id")
    date_hierarchy = "created_at"

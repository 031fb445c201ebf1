"""The host's view of personalization: why a guest got what they got, what an import refused, when the layers
were last refreshed. All written by the system: a host looks, never edits."""
from django.contrib import admin

from atlas_guest.admin_base import ReadOnlyMixin, TenantModelAdmin
from personalization.models import PersonalizationDecision, QuarantinedRecord, RefreshState


@admin.register(PersonalizationDecision)
class PersonalizationDecisionAdmin(ReadOnlyMixin, TenantModelAdmin):
    list_display = ("created_at", "use", "booking", "guest", "key", "choice")
    list_filter = ("use", "key")
    readonly_fields = ("use", "booking", "guest", "key", "choice", "factors", "created_at")
    list_select_related = ("booking", "guest")


@admin.register(QuarantinedRecord)
class QuarantinedRecordAdmin(ReadOnlyMixin, TenantModelAdmin):
    list_display = ("ingested_at", "source", "source_system", "batch_id", "row_number", "reason")
    list_filter = ("source", "source_system")
    search_fields = ("reason",)
    readonly_fields = ("source", "source_system", "batch_id", "row_number", "record", "reason", "ingested_at")

    def has_delete_permission(self, request, obj=None):  # a fixed-and-reimported row may be cleared away
        return TenantModelAdmin.has_delete_permission(self, request, obj)


@admin.register(RefreshState)
class RefreshStateAdmin(ReadOnlyMixin, TenantModelAdmin):
    list_display = ("step", "as_of", "refreshed_at")
    readonly_fields = ("step", "watermarks", "as_of", "refreshed_at", "details")

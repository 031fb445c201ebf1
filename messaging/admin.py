from django.contrib import admin, messages

from atlas_guest.admin_base import ReadOnlyInline, ReadOnlyTenantAdmin, TenantModelAdmin, restrict_to_platform
from messaging.models import (
    AutomationSchedule, CommunicationLog, FailedMessage, MessageAttempt, MessageTemplate, OutboxMessage, OutboxStatus,
    SandboxMessage, ScheduleStatus,
)


@admin.register(MessageTemplate)
class TemplateAdmin(TenantModelAdmin):
    list_display = ("key", "channel", "category", "scope", "property", "language", "version", "is_active")
    list_filter = ("scope", "channel", "category", "is_active")
    search_fields = ("key", "event_type", "body")


class AttemptInline(ReadOnlyInline):
    model = MessageAttempt
    fields = ("channel", "number", "status", "error_code", "error_message", "provider_message_id", "attempted_at")
    show_change_link = False


@admin.register(CommunicationLog)
class LogAdmin(ReadOnlyTenantAdmin):
    list_display = ("created_at", "event_type", "recipient", "channel", "status", "attempt_count", "booking", "guest")
    list_filter = ("status", "channel", "recipient", "event_type")
    search_fields = ("idempotency_key", "provider_message_id", "guest__name")
    date_hierarchy = "created_at"
    list_select_related = ("booking", "guest")
    inlines = [AttemptInline]


@admin.register(FailedMessage)
class FailedMessageAdmin(LogAdmin):
    """DoD 23: every failed or bounced message, to be looked at and sent again."""

    list_display = ("created_at", "event_type", "recipient", "channel", "status", "attempt_count", "error_message", "booking")
    actions = ["resend"]

    def get_queryset(self, request):
        from messaging.delivery import FAILED_STATUSES

        return super().get_queryset(request).filter(status__in=FAILED_STATUSES)

    def has_change_permission(self, request, obj=None):
        # The re-send action needs "change"; the fields themselves stay read-only.
        return request.user.has_perm("messaging.view_communicationlog") and super(LogAdmin, self).has_view_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in CommunicationLog._meta.fields]

    @admin.action(description="Re-send (all channels again)")
    def resend(self, request, queryset):
        from messaging.delivery import resend

        done = sum(resend(log) for log in queryset)
        self.message_user(request, f"{done} message(s) queued again.", messages.SUCCESS)


@admin.register(AutomationSchedule)
class ScheduleAdmin(TenantModelAdmin):
    list_display = ("idempotency_key", "event_type", "recipient", "due_at", "status", "reason", "attempts")
    list_filter = ("status", "event_type", "recipient")
    search_fields = ("idempotency_key",)
    date_hierarchy = "due_at"
    readonly_fields = [f.name for f in AutomationSchedule._meta.fields]
    actions = ["cancel"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Cancel the selected pending touchpoints")
    def cancel(self, request, queryset):
        done = queryset.filter(status=ScheduleStatus.PENDING).update(status=ScheduleStatus.CANCELLED, reason="cancelled by host")
        self.message_user(request, f"{done} cancelled.", messages.SUCCESS)


@admin.register(OutboxMessage)
class OutboxAdmin(TenantModelAdmin):
    """Dead events (5 failed attempts) are shown here with their error, and can be retried."""

    list_display = ("id", "event_type", "status", "attempts", "available_at", "created_at", "last_error")
    list_filter = ("status", "event_type")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry dead events")
    def retry(self, request, queryset):
        from django.utils import timezone

        done = queryset.filter(status=OutboxStatus.DEAD).update(status=OutboxStatus.PENDING, attempts=0, available_at=timezone.now())
        self.message_user(request, f"{done} event(s) queued again.", messages.SUCCESS)


@admin.register(SandboxMessage)
class SandboxAdmin(ReadOnlyTenantAdmin):
    """What the guest would have received, when no provider is configured (local development)."""

    list_display = ("created_at", "event_type", "channel", "to", "booking")
    list_filter = ("channel", "event_type")
    search_fields = ("to", "body")
    fields = ("created_at", "event_type", "channel", "to", "subject", "body", "booking")


restrict_to_platform("django_q")  # django_q's admin is registered by now (it comes earlier in INSTALLED_APPS)

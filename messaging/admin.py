from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from atlas_guest.admin_base import ReadOnlyInline, ReadOnlyTenantAdmin, TenantModelAdmin, restrict_to_platform
from messaging.models import (
    AutomationSchedule, CommunicationLog, FailedMessage, MessageAttempt, MessageTemplate, OutboxMessage, OutboxStatus,
    SandboxMessage, ScheduleStatus,
)
from messaging.templates import publish_version


# What a template is (fixed once saved) and what a host edits (each edit a new version).
TEMPLATE_IDENTITY = ("key", "event_type", "channel", "category", "scope", "property", "language",
                     "whatsapp_template_name")
TEMPLATE_TEXT = ("subject", "body", "html_body")


class PreviewForm(forms.Form):
    """The editor's fields a preview needs; the property is looked up in this tenant's schema only."""

    key = forms.CharField(required=False, max_length=60)
    event_type = forms.CharField(required=False, max_length=60)
    channel = forms.ChoiceField(choices=MessageTemplate._meta.get_field("channel").choices)
    property = forms.ModelChoiceField(queryset=None, required=False)
    subject = forms.CharField(required=False, strip=False)
    body = forms.CharField(required=False, strip=False)
    html_body = forms.CharField(required=False, strip=False)

    def __init__(self, *args, **kwargs):
        from bookings.models import Property

        super().__init__(*args, **kwargs)
        self.fields["property"].queryset = Property.objects.all()

    def unsaved_template(self) -> MessageTemplate:
        return MessageTemplate(**self.cleaned_data)  # never saved: only rendered


@admin.register(MessageTemplate)
class TemplateAdmin(TenantModelAdmin):
    """The template editor: the change page shows the template rendered on sample data (messaging/preview.py),
    and "Preview my changes" renders the edited, unsaved text the same way without saving it. Saving an edited
    text makes a new version (§9.2 TemplateVersion); what a template is stays as it was created."""

    list_display = ("key", "channel", "category", "scope", "property", "language", "version", "is_active")
    list_filter = ("scope", "channel", "category", "is_active")
    search_fields = ("key", "event_type", "body")
    change_form_template = "admin/messaging/messagetemplate/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        # Which template a row is, and its version, are fixed once it exists: the log names it by both.
        return () if obj is None else (*TEMPLATE_IDENTITY, "version", "created_at")

    def save_model(self, request, obj, form, change):
        """An edit of the text is saved as a new version, the active one (messaging.templates.publish_version):
        the version a message was sent with keeps its text, so the message can be rebuilt from the log's
        template and version (GX-PV-001). Saved switched off, the new version is off and the active one stays;
        switching a version on or off alone is saved in place."""
        if not change or not set(TEMPLATE_TEXT) & set(form.changed_data):
            return super().save_model(request, obj, form, change)
        previous = obj.version
        published = publish_version(key=obj.key, scope=obj.scope, property_id=obj.property_id, language=obj.language,
                                    subject=obj.subject, body=obj.body, html_body=obj.html_body, active=obj.is_active)
        for field in obj._meta.concrete_fields:  # the admin goes on with the new version (message, history, redirect)
            setattr(obj, field.attname, getattr(published, field.attname))
        obj.published_from = previous
        messages.info(request, f"Saved as version {published.version}. Version {previous} keeps its text for the "
                               "messages sent with it.")

    def response_change(self, request, obj):
        response = super().response_change(request, obj)
        if getattr(obj, "published_from", None) is not None and "_continue" in request.POST:
            response["Location"] = reverse("admin:messaging_messagetemplate_change", args=[obj.pk])  # the new version
        return response

    def get_urls(self):
        preview_url = path("preview/", self.admin_site.admin_view(require_POST(self.preview_view)),
                           name="messaging_messagetemplate_preview")
        return [preview_url, *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        from messaging.preview import preview

        # After a refused save, obj holds the refused edit: its preview shows what was wrong.
        context["template_preview"] = preview(obj) if obj is not None and obj.body else None
        context["preview_url"] = reverse("admin:messaging_messagetemplate_preview")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def preview_view(self, request):
        """POST the editor's form here: the answer is the preview, the form's data is not saved."""
        from messaging.preview import preview

        if not (self.has_change_permission(request) or self.has_add_permission(request)):
            raise PermissionDenied
        form = PreviewForm(request.POST)
        valid = form.is_valid()
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": "Template preview",
            "preview_form": form, "template_preview": preview(form.unsaved_template()) if valid else None,
        }
        page = "_preview.html" if request.POST.get("_partial") else "preview.html"
        return TemplateResponse(request, f"admin/messaging/messagetemplate/{page}", context,
                                status=200 if valid else 400)


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

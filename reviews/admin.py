from django.contrib import admin, messages
from django.utils import timezone

from atlas_guest.admin_base import TenantModelAdmin
from reviews.models import GuestReview, ReviewStatus


@admin.register(GuestReview)
class ReviewAdmin(TenantModelAdmin):
    list_display = ("booking", "guest", "property", "overall_rating", "status", "source", "submitted_at")
    list_filter = ("status", "source", "overall_rating", "property")
    search_fields = ("guest__name", "comment")
    actions = ["publish", "flag", "hide"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # A host entering an OTA review (source MANUAL) goes through the same service as the portal.
        from reviews.services import submit_review

        data = form.cleaned_data
        review = submit_review(
            data["booking"], overall_rating=data["overall_rating"], comment=data.get("comment", ""),
            source=data.get("source") or "MANUAL",
            **{f: data.get(f) for f in ("cleanliness_rating", "communication_rating", "location_rating", "value_rating")},
        )
        obj.pk = review.pk

    def _moderate(self, request, queryset, status: str) -> None:
        fields = {"status": status}
        if status == ReviewStatus.PUBLISHED:
            fields["published_at"] = timezone.now()
        done = queryset.update(**fields)
        self.message_user(request, f"{done} review(s) {status.lower()}.", messages.SUCCESS)

    @admin.action(description="Publish")
    def publish(self, request, queryset):
        self._moderate(request, queryset, ReviewStatus.PUBLISHED)

    @admin.action(description="Flag for follow-up")
    def flag(self, request, queryset):
        self._moderate(request, queryset, ReviewStatus.FLAGGED)

    @admin.action(description="Hide")
    def hide(self, request, queryset):
        self._moderate(request, queryset, ReviewStatus.HIDDEN)

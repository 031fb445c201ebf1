"""The host's back office for booking intake: each listing's calendar links and how their last reads went."""
from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from atlas_guest.admin_base import ReadOnlyTenantAdmin, TenantModelAdmin
from intake import services
from intake.models import CalendarEvent, CalendarFeed

STATE_FIELDS = ("last_fetch_at", "last_success_at", "read_state", "warnings", "consecutive_failures",
                "reservations_count", "blocks_count", "bookings_created", "next_fetch_at")


def read_state(feed: CalendarFeed) -> str:
    if feed.last_fetch_at is None:
        return "Not read yet (within a minute)"
    if feed.last_error:
        return f"✗ {feed.last_error}"
    return "✓ Read"


class CalendarFeedInline(admin.TabularInline):
    """On the listing's page: its calendar links with their last read at a glance."""

    model = CalendarFeed
    extra = 0
    fields = ("source", "url", "unavailable_is_reservation", "is_active", "state")
    readonly_fields = ("state",)
    show_change_link = True

    @admin.display(description="Last read")
    def state(self, feed: CalendarFeed) -> str:
        return read_state(feed) if feed.pk else "—"


def save_feed_formset(formset) -> None:
    """The listing page's calendar links, saved through the services (a new link is read within a minute)."""
    formset.save(commit=False)
    for feed in formset.deleted_objects:
        feed.delete()
    for feed in formset.new_objects:
        services.add_feed(feed.listing, source=feed.source, url=feed.url,
                          unavailable_is_reservation=feed.unavailable_is_reservation)
    for feed, changed in formset.changed_objects:
        services.feed_changed(feed, url_changed="url" in changed)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(TenantModelAdmin):
    list_display = ("listing", "source", "is_active", "last_fetch_at", "status", "consecutive_failures",
                    "reservations_count", "blocks_count", "bookings_created")
    list_filter = ("source", "is_active", "listing__property")
    search_fields = ("listing__name",)
    list_select_related = ("listing__property",)
    fields = ("listing", "source", "url", "unavailable_is_reservation", "is_active", *STATE_FIELDS)
    readonly_fields = STATE_FIELDS
    actions = ["read_selected_now"]

    @admin.display(description="Last read")
    def status(self, feed: CalendarFeed) -> str:
        return read_state(feed)

    @admin.display(description="Last read")
    def read_state(self, feed: CalendarFeed) -> str:
        return read_state(feed)

    @admin.display(description="Notes from the last read")
    def warnings(self, feed: CalendarFeed):
        if not feed.last_warnings:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in feed.last_warnings)))

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.add_feed(obj.listing, source=obj.source, url=obj.url,
                                        unavailable_is_reservation=obj.unavailable_is_reservation)
            obj.pk = created.pk
            return
        services.feed_changed(obj, url_changed="url" in form.changed_data)

    @admin.action(description="Read now")
    def read_selected_now(self, request, queryset):
        feeds = services.read_now(list(queryset.select_related("listing__property")))
        for feed in feeds:
            level = messages.ERROR if feed.last_error else messages.SUCCESS
            self.message_user(request, f"{feed}: {read_state(feed)}", level)
        if queryset.count() > len(feeds):
            self.message_user(request, f"Only {len(feeds)} links are read at once; the others at the next sync.",
                              messages.WARNING)


@admin.register(CalendarEvent)
class CalendarEventAdmin(ReadOnlyTenantAdmin):
    list_display = ("feed", "kind", "start_date", "end_date", "reservation_code", "booking", "missed_reads",
                    "last_seen_at", "removed_at")
    list_filter = ("kind", "feed__source", "feed__listing__property")
    search_fields = ("reservation_code", "uid")
    list_select_related = ("feed__listing", "booking")

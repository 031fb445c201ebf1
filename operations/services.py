"""Operations writes triggered by the stay (RA-OPS-001): turnover tasks, room status, consumables."""
from __future__ import annotations

import datetime as dt

from django.db import connection

from bookings.models import Booking, Listing, RoomStatus
from operations.models import CleaningType, HousekeepingTask

CONSUMED_ON_CHECKIN = "CHECKIN_CONSUMPTION"


def set_room_status(listing_id: int, status: str) -> None:
    Listing.objects.filter(pk=listing_id).update(room_status=status)


def create_turnover_task(booking: Booking, now: dt.datetime) -> HousekeepingTask:
    """GX-T05: one TURNOVER task per booking, due now (the next guest may arrive today)."""
    task, _ = HousekeepingTask.objects.get_or_create(
        booking=booking,
        cleaning_type=CleaningType.TURNOVER,
        defaults={"listing_id": booking.listing_id, "due_at": now, "created_at": now, "notes": "Auto-created on check-out."},
    )
    return task


def deduct_consumables(booking: Booking, now: dt.datetime) -> int:
    """RA-OPS-001 §4.3.2: consumables leave stock at check-in. The movement row per item and booking is
    unique and only rows actually inserted are deducted, so a replayed or concurrent check-in deducts once.
    Returns how many items were deducted."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH fresh AS (
                INSERT INTO operations_inventorymovement (item_id, booking_id, delta, reason, created_at)
                SELECT c.item_id, %(booking)s, -c.quantity_per_stay, %(reason)s, %(now)s
                FROM operations_listingconsumable c WHERE c.listing_id = %(listing)s
                ON CONFLICT DO NOTHING
                RETURNING item_id, delta
            )
            UPDATE operations_inventoryitem i SET quantity_on_hand = i.quantity_on_hand + fresh.delta
            FROM fresh WHERE i.id = fresh.item_id
            """,
            {"booking": booking.pk, "reason": CONSUMED_ON_CHECKIN, "now": now, "listing": booking.listing_id},
        )
        return cursor.rowcount


def mark_vacant_dirty(listing_id: int) -> None:
    set_room_status(listing_id, RoomStatus.VACANT_DIRTY)


def mark_occupied(listing_id: int) -> None:
    set_room_status(listing_id, RoomStatus.OCCUPIED)

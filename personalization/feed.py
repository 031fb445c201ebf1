"""Bronze fed from our own tables (source system "atlas"): one INSERT ... SELECT per source.

Append-only and idempotent: a row is written only when its record differs from the latest bronze record with
the same key (its md5 is compared), so a re-run writes nothing and a changed booking appends a new version.
No message bodies, no free text a guest typed, no payment references: only what personalization needs.
"""
from __future__ import annotations

import datetime as dt
import uuid

from django.db import connection

from personalization.models import OWN_SYSTEM, Source

# source -> SELECT producing (record_key text, record jsonb) from our operational tables.
OWN_RECORDS: dict[str, str] = {
    Source.GUEST_PROFILES: """
        SELECT g.id::text, jsonb_build_object(
          'guest_id', g.id, 'name', g.name,
          'phone', CASE WHEN g.anonymized_at IS NULL THEN nullif(g.phone, '') END,
          'email', CASE WHEN g.anonymized_at IS NULL THEN nullif(g.email, '') END,
          'created_at', g.created_at,
          'personalization_consent', EXISTS (
            SELECT 1 FROM guests_guestconsent c WHERE c.guest_id = g.id AND c.channel = 'PERSONALIZATION'
              AND c.status = 'GRANTED'))
        FROM guests_guest g""",
    Source.BOOKING_HISTORY: """
        SELECT b.id::text, jsonb_build_object(
          'guest_id', b.guest_id, 'booking_ref', b.id, 'property_id', l.property_id, 'listing_type', l.listing_type,
          'channel', b.source, 'status', lower(b.status), 'booked_at', coalesce(b.confirmed_at, b.created_at),
          'checkin', b.checkin_date, 'checkout', b.checkout_date, 'amount', b.final_amount,
          'guests', b.guests_planned)
        FROM bookings_booking b JOIN bookings_listing l ON l.id = b.listing_id
        WHERE b.status <> 'Lead'""",
    Source.STAY_HISTORY: """
        SELECT b.id::text, jsonb_build_object(
          'guest_id', b.guest_id, 'booking_ref', b.id, 'property_id', l.property_id,
          'checkin', b.checked_in_at::date,
          'checkout', coalesce(b.checked_out_at::date, b.checkout_date),
          'spend_total', b.final_amount + coalesce((SELECT sum(a.quoted_price) FROM bookings_addonrequest a
                                                    WHERE a.booking_id = b.id AND a.status = 'CONFIRMED'), 0),
          'addons', coalesce((SELECT jsonb_agg(a.code ORDER BY a.code) FROM bookings_addonrequest a
                              WHERE a.booking_id = b.id AND a.status = 'CONFIRMED'), '[]'::jsonb),
          'issues', coalesce((SELECT jsonb_agg(t.ticket_type ORDER BY t.id) FROM operations_maintenanceticket t
                              WHERE t.booking_id = b.id), '[]'::jsonb)
                    || coalesce((SELECT jsonb_agg(i.incident_type ORDER BY i.id) FROM operations_incident i
                                 WHERE i.booking_id = b.id), '[]'::jsonb),
          'early_departure', b.checked_out_at IS NOT NULL AND b.checked_out_at::date < b.checkout_date)
        FROM bookings_booking b JOIN bookings_listing l ON l.id = b.listing_id
        WHERE b.checked_in_at IS NOT NULL""",
    Source.FEEDBACK_REVIEWS: """
        SELECT r.id::text, jsonb_build_object(
          'guest_id', r.guest_id, 'review_ref', r.id, 'booking_ref', r.booking_id, 'property_id', r.property_id,
          'rating', r.overall_rating, 'cleanliness', r.cleanliness_rating,
          'communication', r.communication_rating, 'location', r.location_rating, 'value', r.value_rating,
          'submitted_at', r.submitted_at)
        FROM reviews_guestreview r""",
    Source.SPECIAL_REQUESTS: """
        SELECT 'addon:' || a.id, jsonb_build_object(
          'guest_id', b.guest_id, 'request_ref', 'addon:' || a.id, 'booking_ref', a.booking_id,
          'request_type', a.code, 'category', 'addon', 'requested_at', a.requested_at)
        FROM bookings_addonrequest a JOIN bookings_booking b ON b.id = a.booking_id
        UNION ALL
        SELECT 'ticket:' || t.id, jsonb_build_object(
          'guest_id', b.guest_id, 'request_ref', 'ticket:' || t.id, 'booking_ref', t.booking_id,
          'request_type', t.ticket_type, 'category', 'maintenance', 'requested_at', t.created_at)
        FROM operations_maintenanceticket t JOIN bookings_booking b ON b.id = t.booking_id
        UNION ALL
        SELECT 'incident:' || i.id, jsonb_build_object(
          'guest_id', b.guest_id, 'request_ref', 'incident:' || i.id, 'booking_ref', i.booking_id,
          'request_type', i.incident_type, 'category', 'incident', 'requested_at', i.created_at)
        FROM operations_incident i JOIN bookings_booking b ON b.id = i.booking_id""",
    Source.PAYMENT_METHODS: """
        SELECT p.id::text, jsonb_build_object(
          'guest_id', b.guest_id, 'payment_ref', p.id, 'method_type', p.method, 'used_at', p.received_at)
        FROM bookings_payment p JOIN bookings_booking b ON b.id = p.booking_id""",
    Source.MESSAGE_STATUSES: """
        SELECT m.id::text, jsonb_build_object(
          'guest_id', m.guest_id, 'log_ref', m.id, 'event_type', m.event_type, 'channel', m.channel,
          'status', m.status)
        FROM messaging_communicationlog m WHERE m.recipient = 'GUEST' AND m.guest_id IS NOT NULL
          AND m.status <> 'PENDING'""",
}


def feed_own_records(now: dt.datetime, batch_id: uuid.UUID | None = None) -> dict[str, int]:
    """Append what changed in our tables since the last feed. Returns rows appended per source."""
    batch_id = batch_id or uuid.uuid4()
    appended = {}
    with connection.cursor() as cursor:
        for source, select in OWN_RECORDS.items():
            cursor.execute(
                f"""
                INSERT INTO bronze_{source} (record, source_system, batch_id, ingested_at, record_key, record_hash)
                SELECT q.rec, %(system)s, %(batch)s, %(now)s, q.key, md5(q.rec::text)
                FROM ({select}) AS q(key, rec)
                LEFT JOIN LATERAL (
                    SELECT b.record_hash FROM bronze_{source} b
                    WHERE b.source_system = %(system)s AND b.record_key = q.key ORDER BY b.id DESC LIMIT 1
                ) latest ON true
                WHERE latest.record_hash IS DISTINCT FROM md5(q.rec::text)
                ORDER BY q.key
                """,
                {"system": OWN_SYSTEM, "batch": batch_id, "now": now},
            )
            appended[source] = cursor.rowcount
    return appended

"""The personalization data in a guest's export (§10.4) and in their anonymization (§10.5).

Bronze records are matched to the guest as the refresh matches them: our own by guest id, imported ones by the
guest's phone (E.164) or email (lower case). Anonymization deletes those raw records and the guest's silver and
gold rows; their bookings come back on the next refresh under the anonymized profile, so business metrics
keep adding up, but nothing that could identify or profile the person remains.
"""
from __future__ import annotations

from django.db import connection

from personalization.models import BRONZE_MODELS, OWN_SYSTEM, PersonalizationDecision
from personalization.sql import fetch_dicts

GUEST_TABLES = ("silver_guests_standardized", "silver_bookings_enriched", "silver_stays_processed",
                "silver_preference_values", "silver_preferences_consolidated", "silver_social_activity",
                "silver_message_statuses", "silver_engagement_metrics", "silver_reviews", "silver_satisfaction_scores",
                "silver_loyalty", "silver_payment_methods", "silver_special_requests", "gold_guest_facts",
                "gold_recommendation_features", "silver_guest_keys")
EXPORTED = ("silver_guests_standardized", "silver_preferences_consolidated", "silver_engagement_metrics",
            "silver_satisfaction_scores", "silver_loyalty", "gold_recommendation_features")


def _bronze_match(phone: str, email: str) -> tuple[str, list]:
    return (
        "(source_system = %s AND record->>'guest_id' = %s) OR (source_system <> %s AND "
        "(pz_phone(record->>'phone') = %s OR pz_email(record->>'email') = %s))",
        [OWN_SYSTEM, None, OWN_SYSTEM, phone or None, (email or "").lower() or None],
    )


def _rows(cursor) -> list[dict]:
    return fetch_dicts(cursor)


def export_personalization(guest_id: int, phone: str, email: str) -> dict:
    from personalization.uses import profile

    where, params = _bronze_match(phone, email)
    params[1] = str(guest_id)
    out = {"bronze": {}, "silver": {}, "gold": None, "decisions": []}
    with connection.cursor() as cursor:
        for source in BRONZE_MODELS:
            cursor.execute(f"SELECT record, source_system, ingested_at FROM bronze_{source} WHERE {where} ORDER BY id",
                           params)
            found = _rows(cursor)
            if found:
                out["bronze"][source] = found
        for table in EXPORTED:
            cursor.execute(f"SELECT * FROM {table} WHERE guest_key = %s", [guest_id])
            out["silver" if table.startswith("silver") else "gold_features"] = out.get(
                "silver" if table.startswith("silver") else "gold_features") or {}
            out["silver" if table.startswith("silver") else "gold_features"][table] = _rows(cursor)
    out["gold"] = profile(guest_id)
    out["decisions"] = [
        {"use": d.use, "booking_id": d.booking_id, "key": d.key, "choice": d.choice, "factors": d.factors,
         "created_at": d.created_at}
        for d in PersonalizationDecision.objects.filter(guest_id=guest_id)
    ]
    return out


def erase_personalization(guest_id: int, phone: str, email: str) -> int:
    """Delete the guest's raw and derived personalization rows (inside the caller's transaction)."""
    where, params = _bronze_match(phone, email)
    params[1] = str(guest_id)
    deleted = 0
    with connection.cursor() as cursor:
        for source in BRONZE_MODELS:
            cursor.execute(f"DELETE FROM bronze_{source} WHERE {where}", params)
            deleted += cursor.rowcount
        for table in GUEST_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE guest_key = %s", [guest_id])
            deleted += cursor.rowcount
    PersonalizationDecision.objects.filter(guest_id=guest_id).update(factors={})
    return deleted

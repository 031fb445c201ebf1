"""Bronze from outside: validation and quarantine, files and the API, the synthetic generator, privacy."""
from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from personalization.ingest import import_records, read_file
from personalization.models import BronzeLoyaltyProgram, BronzePaymentMethods, BronzeRoomPreferences, QuarantinedRecord
from tests.factories import make_booking, make_guest
from tests.personalization.conftest import one, set_personalization

CARD = "4111 1111 1111 1111"  # the well-known test card number (Luhn-valid)


def test_bad_rows_are_quarantined_with_a_reason_and_the_rest_lands(tenant):
    result = import_records("loyalty_program", [
        {"phone": "+919876500401", "tier": "gold", "points": 100},
        {"phone": "+919876500402", "tier": "diamond"},
        {"email": "not-an-email", "tier": "gold"},
        {"tier": "gold"},
        {"phone": "+919876500403", "tier": "silver", "points": -5},
        "just text",
        {"phone": "+919876500404", "tier": "silver", "as_of": "2026-13-45"},
        {"phone": "+919876500405", "tier": "silver", "nested": {"a": 1}},
    ], source_system="pms")
    assert result.accepted == 1
    reasons = {q["row"]: q["reason"] for q in result.quarantined}
    assert reasons == {
        2: "tier 'diamond' is not one of bronze, gold, platinum, silver.",
        3: "email 'not-an-email' is not a valid email address.",
        4: "Each record needs the guest's phone or email to match it to a guest.",
        5: "points must be between 0 and 100000000.",
        6: "A record must be an object with named fields.",
        7: "as_of '2026-13-45' is not a date between 1990 and 2100 (use YYYY-MM-DD).",
        8: "nested: nested objects are not accepted; use plain values.",
    }
    assert QuarantinedRecord.objects.filter(batch_id=result.batch_id).count() == 7
    assert BronzeLoyaltyProgram.objects.get().record == {"phone": "+919876500401", "tier": "gold", "points": 100}


def test_card_numbers_are_refused_and_never_stored(tenant):
    result = import_records("payment_methods", [
        {"phone": "+919876500411", "method_type": "card", "note": f"paid with {CARD}"},
        {"phone": "+919876500412", "method_type": "UPI", "card_number": "1234"},
        {"phone": "+919876500413", "method_type": "upi"},
    ], source_system="pms")
    assert result.accepted == 1 and BronzePaymentMethods.objects.get().record["method_type"] == "UPI"
    stored = json.dumps(list(QuarantinedRecord.objects.values_list("record", flat=True)))
    assert "4111" not in stored and "1234" not in stored
    assert all("card number" in q["reason"] for q in result.quarantined)


def test_a_batch_is_recorded_whole_or_not_at_all(tenant):
    with pytest.raises(ValueError, match="source_system"):
        import_records("loyalty_program", [{"phone": "+919876500421", "tier": "gold"}], source_system="Bad System!")
    assert not BronzeLoyaltyProgram.objects.exists() and not QuarantinedRecord.objects.exists()


def test_an_import_cannot_claim_our_ids_or_grant_consent(tenant, config, run_refresh):
    guest = make_guest(phone="+919876500431")
    other = make_guest(phone="+919876500432")
    import_records("guest_profiles", [{"phone": other.phone, "guest_id": guest.pk, "personalization_consent": True,
                                       "city": "Pune"}], source_system="pms")
    run_refresh(full=True)
    row = one("SELECT * FROM silver_guests_standardized WHERE guest_key = %s", [other.pk])
    assert (row["city"], row["personalization_consent"]) == ("Pune", False)
    assert one("SELECT city FROM silver_guests_standardized WHERE guest_key = %s", [guest.pk])["city"] is None


def test_csv_and_json_files_through_the_command(tenant, tmp_path):
    csv_file = tmp_path / "stays.csv"
    csv_file.write_text("phone,booking_ref,checkin,checkout,spend_total,addons\n"
                        "+919876500441,B1,2026-01-02,2026-01-05,9000,LATE_CHECKOUT|EXTRA_CLEANING\n"
                        "+919876500441,B2,2026-02-05,2026-02-01,100,\n", encoding="utf-8")
    out = StringIO()
    call_command("import_guest_data", str(csv_file), schema=tenant.schema_name, source="stay_history",
                 source_system="pms", stdout=out)
    connection.set_tenant(tenant)
    text = out.getvalue()
    assert "1 records imported into bronze_stay_history, 1 quarantined" in text
    assert "row 2: checkout is before checkin." in text
    json_file = tmp_path / "prefs.jsonl"
    json_file.write_text('{"phone": "+919876500441", "pillow": "firm"}\n{"phone": "+919876500441"}\n', encoding="utf-8")
    call_command("import_guest_data", str(json_file), schema=tenant.schema_name, source="room_preferences",
                 source_system="pms", stdout=StringIO())
    connection.set_tenant(tenant)
    assert BronzeRoomPreferences.objects.get().record == {"phone": "+919876500441", "pillow": "firm"}
    with pytest.raises(CommandError, match="No file"):
        call_command("import_guest_data", str(tmp_path / "missing.csv"), schema=tenant.schema_name,
                     source="stay_history", source_system="pms")


def test_read_file_flags_rows_with_more_cells_than_headers():
    rows = read_file("phone,tier\n+919876500451,gold,extra\n", "csv")
    result_reason = None
    from personalization.ingest import Rejected, validate
    try:
        validate("loyalty_program", rows[0])
    except Rejected as exc:
        result_reason = str(exc)
    assert result_reason == "The row has more cells than the header has columns."


@pytest.fixture
def api_as(tenant, db):
    from django.contrib.auth.models import Group, User
    from rest_framework.test import APIClient

    def client(role: str) -> APIClient:
        user = User.objects.create_user(f"{role}-pz", password="x", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        api = APIClient(HTTP_HOST=tenant.domains.first().domain)
        api.force_authenticate(user)
        return api

    return client


def _keep(tenant, response):
    connection.set_tenant(tenant)
    return response


def test_import_endpoint_for_managers_with_per_row_reasons(tenant, api_as):
    body = {"source_system": "pms", "records": [{"phone": "+919876500461", "tier": "gold"}, {"tier": "gold"}]}
    assert _keep(tenant, api_as("frontdesk").post("/api/personalization/import/loyalty_program", body,
                                                  format="json")).status_code == 403
    response = _keep(tenant, api_as("manager").post("/api/personalization/import/loyalty_program", body, format="json"))
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["quarantined"] == [{"row": 2, "reason": "Each record needs the guest's phone or email to match it to a guest."}]
    owner = api_as("owner")
    bad = _keep(tenant, owner.post("/api/personalization/import/passwords", body, format="json"))
    assert bad.status_code == 400 and "Unknown source" in bad.json()["source"][0]
    empty = _keep(tenant, owner.post("/api/personalization/import/loyalty_program",
                                     {"source_system": "pms", "records": []}, format="json"))
    assert empty.status_code == 400 and "records" in empty.json()


def test_profile_quote_and_semantic_endpoints(tenant, config, run_refresh, api_as):
    guest = make_guest(phone="+919876500471")
    set_personalization(guest)
    make_booking(guest=guest)
    run_refresh(full=True)
    manager, frontdesk, owner = api_as("manager"), api_as("frontdesk"), api_as("owner")
    profile = _keep(tenant, manager.get(f"/api/personalization/guests/{guest.pk}")).json()
    assert profile["consent"] is True and profile["profile"]["guest_key"] == guest.pk
    assert _keep(tenant, frontdesk.get(f"/api/personalization/guests/{guest.pk}")).status_code == 403
    quote = _keep(tenant, frontdesk.get(f"/api/personalization/quote?guest={guest.pk}&amount=5000"))
    assert quote.status_code == 200 and quote.json()["quoted"].startswith("5000")
    bad = _keep(tenant, frontdesk.get("/api/personalization/quote?guest=x&amount=-1")).json()
    assert set(bad) == {"guest", "amount"}
    listing = _keep(tenant, manager.get("/api/semantic/metrics")).json()["metrics"]
    assert {"revenue", "unique_guests", "guest_satisfaction"} <= {m["name"] for m in listing}
    assert _keep(tenant, manager.get("/api/semantic/metrics/revenue")).status_code == 403  # money: owners
    by_month = _keep(tenant, owner.get("/api/semantic/metrics/bookings?by=month,source")).json()
    assert by_month["rows"] == [{"month": "2026-03-01", "source": "DIRECT", "value": 1}]
    wrong = _keep(tenant, owner.get("/api/semantic/metrics/guests?by=property"))
    assert wrong.status_code == 400 and "cannot be cut by property" in wrong.json()["metric"][0]


def test_export_and_anonymization_cover_personalization(tenant, config, run_refresh):
    from guests.privacy import anonymize_guest, export_guest

    guest = make_guest(phone="+919876500481", email="meera@example.com")
    set_personalization(guest)
    make_booking(guest=guest)
    import_records("room_preferences", [{"phone": "09876500481", "pillow": "firm"}], source_system="pms")
    import_records("social_media_activity", [{"email": "MEERA@example.com", "activity_id": "z", "platform": "x",
                                              "activity_type": "post"}], source_system="s")
    run_refresh(full=True)
    data = export_guest(guest.pk)["personalization"]
    assert data["bronze"]["room_preferences"][0]["record"]["pillow"] == "firm"
    assert data["bronze"]["social_media_activity"][0]["source_system"] == "s"
    assert data["silver"]["silver_preferences_consolidated"][0]["room"] == {"pillow": "firm"}
    assert data["gold"]["guest_key"] == guest.pk

    anonymize_guest(guest.pk, actor="user:1")
    assert not BronzeRoomPreferences.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM silver_preference_values WHERE guest_key = %s", [guest.pk])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM silver_guest_keys WHERE guest_key = %s", [guest.pk])
        assert cursor.fetchone()[0] == 0
    run_refresh()  # the bookings come back under the anonymized profile: aggregates still add up
    row = one("SELECT * FROM silver_guests_standardized WHERE guest_key = %s", [guest.pk])
    assert (row["name"], row["phone_e164"], row["email"]) == ("Deleted Guest", None, None)
    assert one("SELECT bookings FROM gold_guest_facts WHERE guest_key = %s", [guest.pk])["bookings"] == 1
    assert one("SELECT room_preferences FROM gold_guest_facts WHERE guest_key = %s", [guest.pk])["room_preferences"] == {}


def test_generator_writes_guests_with_history_and_signal(tenant, config, run_refresh):
    from personalization.synthetic import generate

    result = generate(300, seed=3, today=dt.date(2026, 6, 1), progress=False)
    connection.set_tenant(tenant)
    assert result.guests == 300 and result.stays > 300 and result.records["booking_history"] == result.bookings
    run_refresh(full=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM gold_guest_facts")
        assert cursor.fetchone()[0] == 300
        cursor.execute("SELECT guest_key, upsell_airport_transfer FROM gold_personalization_scores s "
                       "JOIN gold_guest_facts f USING (guest_key) WHERE f.stays >= 3")
        scores = cursor.fetchall()
    by_persona: dict[str, list[int]] = {}
    for gid, airport in scores:
        by_persona.setdefault(result.personas[gid], []).append(airport)
    mean = {p: sum(v) / len(v) for p, v in by_persona.items()}
    assert mean["luxury"] > mean["family"]  # the hidden persona shows through the behaviour-based score


def test_refresh_runs_as_a_schedule_in_tenants_with_personalization(tenant, config):
    from django_q.models import Schedule

    from messaging.tasks import ensure_daily_schedules
    from personalization.tasks import hourly_refresh

    connection.set_schema_to_public()
    ensure_daily_schedules()
    assert Schedule.objects.get(name="personalization-hourly").schedule_type == Schedule.HOURLY
    assert Schedule.objects.get(name="personalization-nightly").schedule_type == Schedule.DAILY
    done = hourly_refresh()
    connection.set_tenant(tenant)
    assert tenant.schema_name in done

"""Bronze from outside: CSV or JSON files (`manage.py import_guest_data`) and the staff API.

Every record is checked before it lands. A bad one goes to the quarantine table with a reason a person can
act on; it never aborts the batch and is never silently dropped. Accepted and quarantined rows of a batch are
written in one transaction, so a batch is either wholly recorded or not at all.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from guests.phones import normalize_phone
from personalization.models import BRONZE_MODELS, OWN_SYSTEM, QuarantinedRecord, Source
from personalization.refresh import ROOM_ATTRIBUTES, SERVICE_CATEGORIES

MAX_RECORDS_PER_BATCH = 100_000
MAX_FIELD_LENGTH = 500
CARD_NUMBER = re.compile(r"(?:\d[ -]?){13,19}")
SOURCE_SYSTEM = re.compile(r"^[a-z0-9_.-]{1,40}$")

# Which field names the natural key of each source (else the whole record's hash: a duplicate is the same row).
NATURAL_KEY = {
    Source.GUEST_PROFILES: "guest_ref",
    Source.BOOKING_HISTORY: "booking_ref",
    Source.STAY_HISTORY: "booking_ref",
    Source.SOCIAL_MEDIA_ACTIVITY: "activity_id",
    Source.LOYALTY_PROGRAM: "member_id",
    Source.FEEDBACK_REVIEWS: "review_ref",
    Source.PAYMENT_METHODS: "payment_ref",
    Source.SPECIAL_REQUESTS: "request_ref",
}
LIST_FIELDS = {"addons", "issues"}  # in CSV: values separated by "|"
TIERS = {"bronze", "silver", "gold", "platinum"}
PAYMENT_TYPES = {"UPI", "CARD", "CASH", "BANK_TRANSFER", "WALLET", "OTA"}
SENTIMENT_RANGE = (Decimal("-1"), Decimal("1"))


class Rejected(Exception):
    """A record that cannot be accepted; the message is the reason kept in quarantine."""


@dataclass
class ImportResult:
    source: str
    batch_id: uuid.UUID
    accepted: int = 0
    quarantined: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"source": self.source, "batch_id": str(self.batch_id), "accepted": self.accepted,
                "quarantined": self.quarantined}


def import_records(source: str, records: Iterable, *, source_system: str, now: dt.datetime | None = None,
                   batch_id: uuid.UUID | None = None) -> ImportResult:
    if source not in BRONZE_MODELS or source == Source.MESSAGE_STATUSES:
        raise ValueError(f"Unknown source {source!r}: use one of {', '.join(s for s in importable_sources())}.")
    if not SOURCE_SYSTEM.match(source_system or "") or source_system == OWN_SYSTEM:
        raise ValueError("source_system must be 1-40 lower-case letters, digits, '_', '-' or '.', and not 'atlas'.")
    now = now or timezone.now()
    batch_id = batch_id or uuid.uuid4()
    result = ImportResult(source, batch_id)
    model = BRONZE_MODELS[source]
    accepted, quarantined = [], []
    for row_number, raw in enumerate(records, start=1):
        if row_number > MAX_RECORDS_PER_BATCH:
            raise ValueError(f"At most {MAX_RECORDS_PER_BATCH:,} records per batch: split the file.")
        try:
            record = validate(source, raw)
        except Rejected as exc:
            masked = _mask(raw)
            quarantined.append(QuarantinedRecord(source=source, source_system=source_system, batch_id=batch_id,
                                                 row_number=row_number, record=masked, reason=str(exc)[:300],
                                                 ingested_at=now))
            result.quarantined.append({"row": row_number, "reason": str(exc)})
            continue
        text = json.dumps(record, sort_keys=True, default=str)
        digest = hashlib.md5(text.encode()).hexdigest()
        key_field = NATURAL_KEY.get(source)
        key = str(record.get(key_field) or "") if key_field else ""
        accepted.append(model(record=record, source_system=source_system, batch_id=batch_id, ingested_at=now,
                              record_key=(key or digest)[:120], record_hash=digest))
    with transaction.atomic():
        model.objects.bulk_create(accepted, batch_size=2000)
        QuarantinedRecord.objects.bulk_create(quarantined, batch_size=2000)
    result.accepted = len(accepted)
    return result


def importable_sources() -> list[str]:
    return [s.value for s in Source if s != Source.MESSAGE_STATUSES]


def read_file(text: str, fmt: str) -> list:
    """CSV (a header row), a JSON array, or JSON lines. Empty CSV cells are absent values."""
    if fmt == "csv":
        rows = []
        for row in csv.DictReader(io.StringIO(text)):
            record = {}
            for key, value in row.items():
                if key is None:
                    record["_extra_columns"] = value  # more cells than headers: validation says so
                    continue
                value = (value or "").strip()
                if value == "":
                    continue
                record[key.strip()] = [v.strip() for v in value.split("|") if v.strip()] if key.strip() in LIST_FIELDS else value
            rows.append(record)
        return rows
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        data = json.loads(stripped)
        if not isinstance(data, list):
            raise ValueError("A JSON file must hold an array of records.")
        return data
    return [json.loads(line) for line in stripped.splitlines() if line.strip()]


# --- validation -----------------------------------------------------------------------------------------------

def validate(source: str, raw) -> dict:
    if not isinstance(raw, dict):
        raise Rejected("A record must be an object with named fields.")
    if "_extra_columns" in raw:
        raise Rejected("The row has more cells than the header has columns.")
    if _has_card_number(raw):
        raise Rejected("Looks like a card number: payment data must carry the method type only, never numbers.")
    record = {}
    for key, value in raw.items():
        if not isinstance(key, str) or len(key) > 60:
            raise Rejected("Field names must be text of at most 60 characters.")
        if isinstance(value, str):
            if len(value) > MAX_FIELD_LENGTH:
                raise Rejected(f"{key}: at most {MAX_FIELD_LENGTH} characters.")
            if "\x00" in value:
                raise Rejected(f"{key}: contains a NUL character.")
        elif isinstance(value, (dict,)):
            raise Rejected(f"{key}: nested objects are not accepted; use plain values.")
        elif isinstance(value, list) and (key not in LIST_FIELDS or not all(isinstance(v, str) for v in value)):
            raise Rejected(f"{key}: a list is accepted only for addons and issues, as text values.")
        record[key] = value
    _identity(record)
    CHECKS[source](record)
    return record


def _identity(record: dict) -> None:
    """Imported records are matched to our guests by phone or email, so one of them must be usable."""
    record.pop("guest_id", None)  # only our own feed may name our ids
    phone, email = record.get("phone"), record.get("email")
    if phone not in (None, ""):
        try:
            record["phone"] = normalize_phone(str(phone)[:40])
        except ValidationError as exc:
            raise Rejected(f"phone: {exc.messages[0]}") from None
    if email not in (None, ""):
        if not isinstance(email, str) or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email.strip()):
            raise Rejected(f"email {str(email)[:60]!r} is not a valid email address.")
        record["email"] = email.strip().lower()
    if not record.get("phone") and not record.get("email"):
        raise Rejected("Each record needs the guest's phone or email to match it to a guest.")


def _required(record: dict, *names: str) -> None:
    missing = [n for n in names if record.get(n) in (None, "")]
    if missing:
        raise Rejected(f"Missing {', '.join(missing)}.")


def _date(record: dict, name: str, *, required: bool = False) -> dt.date | None:
    value = record.get(name)
    if value in (None, ""):
        if required:
            raise Rejected(f"Missing {name}.")
        return None
    parsed = _parsed_date(str(value)) if len(str(value)) <= 10 else None
    if parsed is None:
        moment = _datetime_value(value)
        parsed = moment.date() if moment else None
    if parsed is None or not (dt.date(1990, 1, 1) <= parsed <= dt.date(2100, 1, 1)):
        raise Rejected(f"{name} {str(value)[:30]!r} is not a date between 1990 and 2100 (use YYYY-MM-DD).")
    record[name] = parsed.isoformat()
    return parsed


def _parsed_date(text: str) -> dt.date | None:
    try:
        return parse_date(text)
    except ValueError:  # well formed but impossible, e.g. month 13
        return None


def _datetime_value(value) -> dt.datetime | None:
    try:
        moment = parse_datetime(str(value))
    except ValueError:
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _moment(record: dict, name: str) -> None:
    value = record.get(name)
    if value in (None, ""):
        record.pop(name, None)
        return
    moment = _datetime_value(value)
    if moment is None and _parsed_date(str(value)[:10]) and len(str(value)) <= 10:
        moment = dt.datetime.combine(_parsed_date(str(value)), dt.time(), tzinfo=dt.timezone.utc)
    if moment is None or not (1990 <= moment.year <= 2100):
        raise Rejected(f"{name} {str(value)[:30]!r} is not a date and time (use ISO 8601).")
    record[name] = moment.isoformat()


def _number(record: dict, name: str, *, low=None, high=None, integer=False, required=False) -> None:
    value = record.get(name)
    if value in (None, ""):
        if required:
            raise Rejected(f"Missing {name}.")
        record.pop(name, None)
        return
    if isinstance(value, bool):
        raise Rejected(f"{name} must be a number.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Rejected(f"{name} {str(value)[:30]!r} is not a number.") from None
    if not number.is_finite() or (integer and number != number.to_integral_value()):
        raise Rejected(f"{name} must be a{'whole' if integer else ''} number.")
    if (low is not None and number < low) or (high is not None and number > high):
        raise Rejected(f"{name} must be between {low} and {high}.")
    record[name] = int(number) if integer else str(number)


def _choice(record: dict, name: str, allowed: set[str], *, required=False, upper=False) -> None:
    value = record.get(name)
    if value in (None, ""):
        if required:
            raise Rejected(f"Missing {name}.")
        return
    text = str(value).strip()
    text = text.upper() if upper else text.lower()
    if text not in allowed:
        raise Rejected(f"{name} {str(value)[:30]!r} is not one of {', '.join(sorted(allowed))}.")
    record[name] = text


def _boolean(record: dict, name: str) -> None:
    value = record.get(name)
    if value in (None, ""):
        record.pop(name, None)
        return
    if isinstance(value, bool):
        return
    text = str(value).strip().lower()
    if text not in {"true", "false", "yes", "no", "1", "0"}:
        raise Rejected(f"{name} must be true or false.")
    record[name] = text in {"true", "yes", "1"}


def _stay_dates(record: dict) -> None:
    checkin, checkout = _date(record, "checkin", required=True), _date(record, "checkout", required=True)
    if checkout < checkin:
        raise Rejected("checkout is before checkin.")
    if (checkout - checkin).days > 365:
        raise Rejected("A stay longer than 365 nights is not accepted.")


def _check_profile(record: dict) -> None:
    record.pop("personalization_consent", None)  # consent is given to us, never imported
    _moment(record, "created_at")


def _check_booking(record: dict) -> None:
    _required(record, "booking_ref")
    _number(record, "property_id", low=1, high=2**31 - 1, integer=True, required=True)
    _stay_dates(record)
    _moment(record, "booked_at")
    _number(record, "amount", low=0, high=10**9)
    _choice(record, "status", {"confirmed", "cancelled", "completed"})
    _number(record, "guests", low=1, high=100, integer=True)


def _check_stay(record: dict) -> None:
    _required(record, "booking_ref")
    _number(record, "property_id", low=1, high=2**31 - 1, integer=True)
    _stay_dates(record)
    _number(record, "spend_total", low=0, high=10**9)
    _boolean(record, "early_departure")
    for name in LIST_FIELDS:
        values = record.get(name, [])
        if isinstance(values, str):
            values = [v.strip() for v in values.split("|") if v.strip()]
        record[name] = [v.upper()[:40] for v in values]


def _check_room(record: dict) -> None:
    if not any(record.get(a) not in (None, "") for a in ROOM_ATTRIBUTES):
        raise Rejected(f"No room preference: give at least one of {', '.join(ROOM_ATTRIBUTES)}.")
    _number(record, "temperature", low=16, high=30)
    _moment(record, "observed_at")


def _check_service(record: dict) -> None:
    if not any(record.get(a) not in (None, "") for a in SERVICE_CATEGORIES):
        raise Rejected(f"No service preference: give at least one of {', '.join(SERVICE_CATEGORIES)}.")
    _moment(record, "observed_at")


def _check_social(record: dict) -> None:
    _required(record, "platform", "activity_type")
    _number(record, "sentiment", low=SENTIMENT_RANGE[0], high=SENTIMENT_RANGE[1])
    _moment(record, "occurred_at")


def _check_loyalty(record: dict) -> None:
    _choice(record, "tier", TIERS, required=True)
    _number(record, "points", low=0, high=10**8, integer=True)
    _date(record, "as_of")


def _check_review(record: dict) -> None:
    _required(record, "review_ref")
    _number(record, "rating", low=1, high=5, integer=True, required=True)
    for name in ("cleanliness", "communication", "location", "value"):
        _number(record, name, low=1, high=5, integer=True)
    _number(record, "property_id", low=1, high=2**31 - 1, integer=True)
    _moment(record, "submitted_at")


def _check_payment(record: dict) -> None:
    _choice(record, "method_type", PAYMENT_TYPES, required=True, upper=True)
    allowed = {"phone", "email", "method_type", "used_at", "payment_ref", "guest_ref"}
    extra = sorted(set(record) - allowed)
    if extra:
        raise Rejected(f"Payment records carry the method type only; remove {', '.join(extra)}.")
    _moment(record, "used_at")


def _check_request(record: dict) -> None:
    _required(record, "request_ref", "request_type")
    record["request_type"] = str(record["request_type"]).strip().upper()[:40]
    _moment(record, "requested_at")


CHECKS = {
    Source.GUEST_PROFILES: _check_profile,
    Source.BOOKING_HISTORY: _check_booking,
    Source.STAY_HISTORY: _check_stay,
    Source.ROOM_PREFERENCES: _check_room,
    Source.SERVICE_PREFERENCES: _check_service,
    Source.SOCIAL_MEDIA_ACTIVITY: _check_social,
    Source.LOYALTY_PROGRAM: _check_loyalty,
    Source.FEEDBACK_REVIEWS: _check_review,
    Source.PAYMENT_METHODS: _check_payment,
    Source.SPECIAL_REQUESTS: _check_request,
}


def _has_card_number(raw: dict) -> bool:
    for key, value in raw.items():
        if str(key).lower() in {"card_number", "pan", "cvv", "card"}:
            return True
        if isinstance(value, (str, int)) and not isinstance(value, bool) and key not in {"phone"}:
            if CARD_NUMBER.search(str(value)) and _luhn(re.sub(r"\D", "", str(value))):
                return True
    return False


def _luhn(digits: str) -> bool:
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask(raw) -> dict:
    """Quarantine keeps the record for a person to fix it, minus anything that could be a card number."""
    if not isinstance(raw, dict):
        return {"_value": str(raw)[:MAX_FIELD_LENGTH]}
    masked = {}
    for key, value in list(raw.items())[:60]:
        text = value if isinstance(value, (int, float, bool)) or value is None else str(value)[:MAX_FIELD_LENGTH]
        if isinstance(text, str):
            text = CARD_NUMBER.sub("[removed]", text.replace("\x00", ""))
        if str(key).lower() in {"card_number", "pan", "cvv", "card"}:
            text = "[removed]"
        masked[str(key)[:60]] = text
    return masked

"""The bronze → silver → gold refresh: set-based SQL inside PostgreSQL, one transaction, incremental by watermark.

Each bronze source has a watermark (the last bronze id consumed). A run stages the bronze rows above it (plus
earlier rows still waiting for a guest to match), upserts them into the record-level silver tables (the latest
ingest of a natural key wins, so a replay changes nothing), and collects the guest keys they touch. The
per-guest silver and gold rows are then rebuilt for exactly those keys; business metrics for the
property-months touched. A full refresh is the same code with every watermark at zero and the derived tables
emptied first, so a full and an incremental refresh cannot disagree about a rule.

Each source is aggregated per guest before anything is joined (no fan-out: a guest with 3 bookings and 4
reviews is one row, not 12).
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from personalization.feed import feed_own_records
from personalization.models import OWN_SYSTEM, RefreshState, Source

ROOM_ATTRIBUTES = ("temperature", "lighting", "pillow", "floor", "view", "bed", "noise", "accessibility")
SERVICE_CATEGORIES = ("dining", "spa", "transport", "activities", "shopping", "amenities", "dietary")
ADDONS = ("LATE_CHECKOUT", "EARLY_CHECKIN", "EXTRA_CLEANING", "AIRPORT_TRANSFER")
SATISFACTION_CHECK = "guest.satisfaction_check"  # messaging.events.GUEST_SATISFACTION_CHECK
LOCK_ID = 0x7A6701  # one refresh per schema at a time (a transaction-scoped advisory lock)

PER_GUEST_TABLES = ("silver_preferences_consolidated", "silver_engagement_metrics", "silver_satisfaction_scores",
                    "gold_guest_facts", "gold_recommendation_features")
RECORD_TABLES = ("silver_guests_standardized", "silver_bookings_enriched", "silver_stays_processed",
                 "silver_preference_values", "silver_social_activity", "silver_message_statuses", "silver_reviews",
                 "silver_loyalty", "silver_payment_methods", "silver_special_requests", "silver_guest_keys",
                 "silver_unmatched", "gold_business_metrics")


@dataclass
class RefreshResult:
    full: bool
    as_of: dt.date
    fed: dict[str, int] = field(default_factory=dict)
    staged: dict[str, int] = field(default_factory=dict)
    unmatched: int = 0
    guests_refreshed: int = 0
    months_refreshed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    source_seconds: dict[str, float] = field(default_factory=dict)


def refresh(*, full: bool = False, as_of: dt.date | None = None, now: dt.datetime | None = None,
            feed: bool = True, progress=None) -> RefreshResult:
    """Run the medallion refresh for the current tenant schema."""
    now = now or timezone.now()
    as_of = as_of or now.date()
    result = RefreshResult(full=full, as_of=as_of)
    say = progress or (lambda _text: None)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        cursor.execute("SET LOCAL work_mem = '128MB'")  # the sorts of a full refresh stay in memory
        clock = _Clock(result)
        if feed:
            result.fed = feed_own_records(now)
            clock.lap("bronze feed")
            say(f"bronze: {sum(result.fed.values())} records from our own tables")
        state, _ = RefreshState.objects.select_for_update().get_or_create(step="silver")
        watermarks = {} if full else dict(state.watermarks)
        _temp_tables(cursor)
        if full:
            cursor.execute("TRUNCATE " + ", ".join(RECORD_TABLES + PER_GUEST_TABLES))
        new_marks = {}
        for source in Source:
            lap = time.perf_counter()
            staged, top = _stage(cursor, source, watermarks.get(source, 0))
            new_marks[source] = max(top, watermarks.get(source, 0))
            result.staged[source] = staged
            if staged:
                SILVER_STEPS[source](cursor)
            cursor.execute("DROP VIEW pz_stage; DROP TABLE pz_keys")
            result.source_seconds[source] = round(time.perf_counter() - lap, 3)
        clock.lap("silver records")
        say(f"silver: {sum(result.staged.values())} bronze records staged")
        cursor.execute("SELECT count(*) FROM silver_unmatched")
        result.unmatched = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pz_changed")
        result.guests_refreshed = cursor.fetchone()[0]
        _per_guest_silver(cursor)
        clock.lap("silver per guest")
        _gold(cursor, as_of)
        clock.lap("gold per guest")
        result.months_refreshed = _business_metrics(cursor)
        clock.lap("gold business metrics")
        say(f"gold: {result.guests_refreshed} guests, {result.months_refreshed} property-months")
        cursor.execute("DROP TABLE pz_changed, pz_months")
        state.watermarks, state.refreshed_at, state.as_of = new_marks, now, as_of
        state.details = {"full": full, "staged": result.staged, "unmatched": result.unmatched}
        state.save()
        RefreshState.objects.update_or_create(step="gold", defaults={"as_of": as_of, "refreshed_at": now})
    return result


class _Clock:
    def __init__(self, result: RefreshResult):
        self.result, self.start = result, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.result.seconds[name] = round(now - self.start, 3)
        self.start = now


def _temp_tables(cursor) -> None:
    cursor.execute("CREATE TEMP TABLE pz_changed (guest_key bigint PRIMARY KEY) ON COMMIT DROP")
    cursor.execute("CREATE TEMP TABLE pz_months (property_id int, month date, PRIMARY KEY (property_id, month)) "
                   "ON COMMIT DROP")


def _stage(cursor, source: str, watermark: int) -> tuple[int, int]:
    """Bronze rows above the watermark and the ones still unmatched, each with its guest key (our guest id):
    our own records carry it; imported ones are matched by E.164 phone, then by lower-case email."""
    # Narrow: ids and keys only; the records are read from bronze through the pz_stage view when needed.
    cursor.execute(
        f"""
        CREATE TEMP TABLE pz_keys ON COMMIT DROP AS
        SELECT r.id, coalesce(CASE WHEN r.source_system = %(own)s THEN (r.record->>'guest_id')::bigint END,
                              kp.guest_key, ke.guest_key) AS guest_key
        FROM bronze_{source} r
        LEFT JOIN silver_guest_keys kp
          ON kp.identity = 'phone:' || CASE WHEN r.source_system <> %(own)s THEN pz_phone(r.record->>'phone') END
        LEFT JOIN silver_guest_keys ke
          ON ke.identity = 'email:' || CASE WHEN r.source_system <> %(own)s THEN pz_email(r.record->>'email') END
        WHERE r.id > %(wm)s OR r.id IN (SELECT bronze_id FROM silver_unmatched WHERE source = %(source)s)
        """,
        {"own": OWN_SYSTEM, "wm": watermark, "source": source},
    )
    cursor.execute("ALTER TABLE pz_keys ADD PRIMARY KEY (id)")
    cursor.execute(f"""CREATE TEMP VIEW pz_stage AS
        SELECT r.id, r.record, r.source_system, r.record_key, r.ingested_at, k.guest_key
        FROM pz_keys k JOIN bronze_{source} r ON r.id = k.id""")
    cursor.execute("SELECT count(*), coalesce(max(id), 0) FROM pz_keys")
    staged, top = cursor.fetchone()
    if staged and source == Source.GUEST_PROFILES:
        _register_identities(cursor)  # before matching is booked: a profile may match its own import
    if staged:
        cursor.execute("INSERT INTO silver_unmatched SELECT %s, id FROM pz_keys WHERE guest_key IS NULL "
                       "ON CONFLICT DO NOTHING", [source])
        cursor.execute("DELETE FROM silver_unmatched u USING pz_keys s WHERE u.source = %s AND u.bronze_id = s.id "
                       "AND s.guest_key IS NOT NULL", [source])
        cursor.execute("INSERT INTO pz_changed SELECT DISTINCT guest_key FROM pz_keys WHERE guest_key IS NOT NULL "
                       "ON CONFLICT DO NOTHING")
    return staged, top


def _register_identities(cursor) -> None:
    """The identity registry: a guest's current phone and email point at their key. A guest whose profile
    changed loses the old ones first (an anonymized guest keeps none). A shared email belongs to the earliest
    guest with it."""
    cursor.execute(f"""
        CREATE TEMP TABLE pz_profiles ON COMMIT DROP AS
        SELECT DISTINCT ON (guest_key) guest_key, record FROM pz_stage
        WHERE source_system = '{OWN_SYSTEM}' ORDER BY guest_key, id DESC""")
    cursor.execute("DELETE FROM silver_guest_keys k USING pz_profiles p WHERE k.guest_key = p.guest_key")
    cursor.execute("""
        INSERT INTO silver_guest_keys (identity, guest_key)
        SELECT DISTINCT ON (identity) identity, guest_key FROM (
          SELECT 'phone:' || pz_phone(record->>'phone') AS identity, guest_key FROM pz_profiles
          UNION ALL SELECT 'email:' || pz_email(record->>'email'), guest_key FROM pz_profiles
        ) i WHERE identity IS NOT NULL ORDER BY identity, guest_key
        ON CONFLICT (identity) DO UPDATE SET guest_key = least(silver_guest_keys.guest_key, EXCLUDED.guest_key)""")
    cursor.execute("DROP TABLE pz_profiles")
    # Imported profiles staged before their guest's identities were known may match now.
    cursor.execute("""
        UPDATE pz_keys k SET guest_key = coalesce(kp.guest_key, ke.guest_key)
        FROM pz_stage s
        LEFT JOIN silver_guest_keys kp ON kp.identity = 'phone:' || pz_phone(s.record->>'phone')
        LEFT JOIN silver_guest_keys ke ON ke.identity = 'email:' || pz_email(s.record->>'email')
        WHERE k.id = s.id AND k.guest_key IS NULL AND coalesce(kp.guest_key, ke.guest_key) IS NOT NULL""")


def _upsert(cursor, table: str, key: tuple[str, ...], columns: tuple[str, ...], select: str,
            newer: str = "t.bronze_id < EXCLUDED.bronze_id", params=None) -> None:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    cursor.execute(
        f"INSERT INTO {table} AS t ({', '.join(columns)}) {select} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} WHERE {newer}",
        params,
    )


def _latest(select: str, key: str) -> str:
    """The newest version of each natural key in the stage (a key may arrive twice in one run)."""
    return f"SELECT DISTINCT ON ({key}) * FROM ({select}) x ORDER BY {key}, bronze_id DESC"


def _silver_guests(cursor) -> None:
    own = f"""
        SELECT s.guest_key, s.id AS bronze_id, s.record->>'name' AS name, pz_phone(s.record->>'phone') AS phone_e164,
          pz_email(s.record->>'email') AS email, NULL::text AS city, NULL::text AS country,
          coalesce((s.record->>'personalization_consent')::boolean, false) AS personalization_consent,
          (s.record->>'created_at')::timestamptz::date AS first_seen
        FROM pz_stage s WHERE s.source_system = '{OWN_SYSTEM}'"""
    _upsert(cursor, "silver_guests_standardized", ("guest_key",),
            ("guest_key", "bronze_id", "name", "phone_e164", "email", "city", "country", "personalization_consent",
             "first_seen"), _latest(own, "guest_key"))
    # Imported profiles add what we do not hold (city, country); they never grant consent.
    cursor.execute(f"""
        UPDATE silver_guests_standardized g SET city = coalesce(x.city, g.city), country = coalesce(x.country, g.country)
        FROM (SELECT DISTINCT ON (guest_key) guest_key, nullif(btrim(record->>'city'), '') AS city,
                     nullif(btrim(record->>'country'), '') AS country
              FROM pz_stage WHERE source_system <> '{OWN_SYSTEM}' AND guest_key IS NOT NULL
              ORDER BY guest_key, id DESC) x
        WHERE g.guest_key = x.guest_key""")


def _silver_bookings(cursor) -> None:
    select = """
        SELECT s.source_system || ':' || s.record_key AS booking_key, s.id AS bronze_id, s.guest_key,
          (s.record->>'property_id')::int AS property_id,
          upper(coalesce(nullif(s.record->>'listing_type', ''), 'UNKNOWN')) AS listing_type,
          upper(coalesce(nullif(s.record->>'channel', ''), 'DIRECT')) AS channel,
          lower(coalesce(nullif(s.record->>'status', ''), 'confirmed')) AS status,
          (s.record->>'booked_at')::timestamptz AS booked_at, v.ci AS checkin, v.co AS checkout,
          v.co - v.ci AS nights, v.amount, round(v.amount / nullif(v.co - v.ci, 0), 2) AS adr,
          v.ci - (s.record->>'booked_at')::timestamptz::date AS lead_days,
          CASE WHEN s.record->>'booked_at' IS NULL THEN NULL
               WHEN v.ci - (s.record->>'booked_at')::timestamptz::date <= 2 THEN '0-2'
               WHEN v.ci - (s.record->>'booked_at')::timestamptz::date <= 7 THEN '3-7'
               WHEN v.ci - (s.record->>'booked_at')::timestamptz::date <= 30 THEN '8-30'
               WHEN v.ci - (s.record->>'booked_at')::timestamptz::date <= 90 THEN '31-90' ELSE '90+' END AS lead_bucket,
          CASE WHEN v.co - v.ci <= 1 THEN '1' WHEN v.co - v.ci <= 3 THEN '2-3'
               WHEN v.co - v.ci <= 7 THEN '4-7' ELSE '8+' END AS stay_bucket,
          -- a Friday or Saturday night inside [checkin, checkout)
          ((12 - extract(isodow FROM v.ci)::int) %% 7 < v.co - v.ci
            OR (13 - extract(isodow FROM v.ci)::int) %% 7 < v.co - v.ci) AS is_weekend,
          lower(coalesce(s.record->>'status', '')) = 'cancelled' AS is_cancelled,
          upper(coalesce(nullif(s.record->>'channel', ''), 'DIRECT')) = 'DIRECT' AS is_direct
        FROM pz_stage s CROSS JOIN LATERAL (
          SELECT (s.record->>'checkin')::date AS ci, (s.record->>'checkout')::date AS co,
                 coalesce((s.record->>'amount')::numeric, 0) AS amount) v
        WHERE s.guest_key IS NOT NULL"""
    cursor.execute("INSERT INTO pz_months SELECT DISTINCT b.property_id, date_trunc('month', b.checkin)::date "
                   "FROM silver_bookings_enriched b JOIN pz_stage s ON b.booking_key = s.source_system || ':' || "
                   "s.record_key WHERE b.property_id IS NOT NULL ON CONFLICT DO NOTHING")
    _upsert(cursor, "silver_bookings_enriched", ("booking_key",),
            ("booking_key", "bronze_id", "guest_key", "property_id", "listing_type", "channel", "status", "booked_at",
             "checkin", "checkout", "nights", "amount", "adr", "lead_days", "lead_bucket", "stay_bucket",
             "is_weekend", "is_cancelled", "is_direct"), _latest(select, "booking_key"), params=[])
    _months_of("SELECT b.property_id, b.checkin FROM silver_bookings_enriched b JOIN pz_stage s "
               "ON b.booking_key = s.source_system || ':' || s.record_key", cursor)


def _months_of(select: str, cursor) -> None:
    cursor.execute(f"INSERT INTO pz_months SELECT DISTINCT property_id, date_trunc('month', checkin)::date "
                   f"FROM ({select}) x(property_id, checkin) WHERE property_id IS NOT NULL ON CONFLICT DO NOTHING")


def _silver_stays(cursor) -> None:
    select = """
        SELECT s.source_system || ':' || s.record_key AS booking_key, s.id AS bronze_id, s.guest_key,
          (s.record->>'property_id')::int AS property_id, v.ci AS checkin, v.co AS checkout,
          greatest(v.co - v.ci, 0) AS nights, v.spend AS spend_total,
          round(v.spend / nullif(v.co - v.ci, 0), 2) AS spend_per_night,
          ARRAY(SELECT upper(a) FROM jsonb_array_elements_text(coalesce(s.record->'addons', '[]')) a ORDER BY 1) AS addons,
          ARRAY(SELECT upper(a) FROM jsonb_array_elements_text(coalesce(s.record->'issues', '[]')) a ORDER BY 1) AS issues,
          coalesce((s.record->>'early_departure')::boolean, false) AS early_departure
        FROM pz_stage s CROSS JOIN LATERAL (
          SELECT (s.record->>'checkin')::date AS ci, (s.record->>'checkout')::date AS co,
                 coalesce((s.record->>'spend_total')::numeric, 0) AS spend) v
        WHERE s.guest_key IS NOT NULL"""
    _upsert(cursor, "silver_stays_processed", ("booking_key",),
            ("booking_key", "bronze_id", "guest_key", "property_id", "checkin", "checkout", "nights", "spend_total",
             "spend_per_night", "addons", "issues", "early_departure"), _latest(select, "booking_key"))


def _silver_preferences(category: str, attributes: tuple[str, ...]):
    def step(cursor) -> None:
        select = """
            SELECT DISTINCT ON (guest_key, category, attribute) * FROM (
              SELECT s.guest_key, %(category)s AS category, kv.key AS attribute, left(btrim(kv.value), 200) AS value,
                pz_precedence(s.source_system) AS precedence,
                coalesce((s.record->>'observed_at')::timestamptz, s.ingested_at) AS observed_at, s.id AS bronze_id
              FROM pz_stage s CROSS JOIN LATERAL jsonb_each_text(s.record) kv
              WHERE s.guest_key IS NOT NULL AND kv.key = ANY(%(attributes)s) AND btrim(coalesce(kv.value, '')) <> ''
            ) p ORDER BY guest_key, category, attribute, precedence DESC, observed_at DESC, bronze_id DESC"""
        _upsert(cursor, "silver_preference_values", ("guest_key", "category", "attribute"),
                ("guest_key", "category", "attribute", "value", "precedence", "observed_at", "bronze_id"), select,
                newer="(t.precedence, t.observed_at, t.bronze_id) < (EXCLUDED.precedence, EXCLUDED.observed_at, "
                      "EXCLUDED.bronze_id)",
                params={"category": category, "attributes": list(attributes)})
    return step


def _silver_social(cursor) -> None:
    select = """
        SELECT s.source_system || ':' || s.record_key AS activity_key, s.id AS bronze_id, s.guest_key,
          lower(s.record->>'platform') AS platform, lower(s.record->>'activity_type') AS activity_type,
          (s.record->>'sentiment')::numeric(4,3) AS sentiment, lower(nullif(s.record->>'topic', '')) AS topic,
          (s.record->>'occurred_at')::timestamptz AS occurred_at
        FROM pz_stage s WHERE s.guest_key IS NOT NULL"""
    _upsert(cursor, "silver_social_activity", ("activity_key",),
            ("activity_key", "bronze_id", "guest_key", "platform", "activity_type", "sentiment", "topic", "occurred_at"),
            _latest(select, "activity_key"))


def _silver_messages(cursor) -> None:
    select = """
        SELECT s.source_system || ':' || s.record_key AS log_key, s.id AS bronze_id, s.guest_key,
          s.record->>'event_type' AS event_type, s.record->>'channel' AS channel, s.record->>'status' AS status,
          s.record->>'status' = 'READ' AS is_read
        FROM pz_stage s WHERE s.guest_key IS NOT NULL"""
    _upsert(cursor, "silver_message_statuses", ("log_key",),
            ("log_key", "bronze_id", "guest_key", "event_type", "channel", "status", "is_read"), _latest(select, "log_key"))


def _silver_reviews(cursor) -> None:
    select = """
        SELECT s.source_system || ':' || s.record_key AS review_key, s.id AS bronze_id, s.guest_key,
          s.source_system || ':' || (s.record->>'booking_ref') AS booking_key, (s.record->>'property_id')::int AS property_id,
          (s.record->>'rating')::int AS rating, (s.record->>'cleanliness')::int AS cleanliness,
          (s.record->>'communication')::int AS communication, (s.record->>'location')::int AS location,
          (s.record->>'value')::int AS value, (s.record->>'submitted_at')::timestamptz AS submitted_at
        FROM pz_stage s WHERE s.guest_key IS NOT NULL"""
    _upsert(cursor, "silver_reviews", ("review_key",),
            ("review_key", "bronze_id", "guest_key", "booking_key", "property_id", "rating", "cleanliness",
             "communication", "location", "value", "submitted_at"), _latest(select, "review_key"))
    _months_of("SELECT coalesce(b.property_id, r.property_id), coalesce(b.checkin, r.submitted_at::date) "
               "FROM silver_reviews r JOIN pz_stage s ON r.review_key = s.source_system || ':' || s.record_key "
               "LEFT JOIN silver_bookings_enriched b ON b.booking_key = r.booking_key", cursor)


def _silver_loyalty(cursor) -> None:
    select = """
        SELECT DISTINCT ON (guest_key) * FROM (
          SELECT s.guest_key, s.id AS bronze_id, lower(s.record->>'tier') AS tier,
            coalesce((s.record->>'points')::int, 0) AS points,
            coalesce((s.record->>'as_of')::date, s.ingested_at::date) AS as_of
          FROM pz_stage s WHERE s.guest_key IS NOT NULL) x
        ORDER BY guest_key, as_of DESC, bronze_id DESC"""
    _upsert(cursor, "silver_loyalty", ("guest_key",), ("guest_key", "bronze_id", "tier", "points", "as_of"), select,
            newer="(t.as_of, t.bronze_id) < (EXCLUDED.as_of, EXCLUDED.bronze_id)")


def _silver_payments(cursor) -> None:
    select = """
        SELECT s.source_system || ':' || s.record_key AS record_key, s.id AS bronze_id, s.guest_key,
          upper(s.record->>'method_type') AS method_type, (s.record->>'used_at')::timestamptz AS used_at
        FROM pz_stage s WHERE s.guest_key IS NOT NULL"""
    _upsert(cursor, "silver_payment_methods", ("record_key",),
            ("record_key", "bronze_id", "guest_key", "method_type", "used_at"), _latest(select, "record_key"))


def _silver_requests(cursor) -> None:
    select = """
        SELECT s.source_system || ':' || s.record_key AS request_key, s.id AS bronze_id, s.guest_key,
          s.source_system || ':' || (s.record->>'booking_ref') AS booking_key,
          upper(s.record->>'request_type') AS request_type, lower(s.record->>'category') AS category,
          (s.record->>'requested_at')::timestamptz AS requested_at
        FROM pz_stage s WHERE s.guest_key IS NOT NULL"""
    _upsert(cursor, "silver_special_requests", ("request_key",),
            ("request_key", "bronze_id", "guest_key", "booking_key", "request_type", "category", "requested_at"),
            _latest(select, "request_key"))


SILVER_STEPS = {
    Source.GUEST_PROFILES: _silver_guests,
    Source.BOOKING_HISTORY: _silver_bookings,
    Source.STAY_HISTORY: _silver_stays,
    Source.ROOM_PREFERENCES: _silver_preferences("room", ROOM_ATTRIBUTES),
    Source.SERVICE_PREFERENCES: _silver_preferences("service", SERVICE_CATEGORIES),
    Source.SOCIAL_MEDIA_ACTIVITY: _silver_social,
    Source.LOYALTY_PROGRAM: _silver_loyalty,
    Source.FEEDBACK_REVIEWS: _silver_reviews,
    Source.PAYMENT_METHODS: _silver_payments,
    Source.SPECIAL_REQUESTS: _silver_requests,
    Source.MESSAGE_STATUSES: _silver_messages,
}

CONSENTED = "JOIN silver_guests_standardized g ON g.guest_key = {alias}.guest_key AND g.personalization_consent"


def _per_guest_silver(cursor) -> None:
    """Rebuild the per-guest silver rows of the changed guests. Preference and social data only for guests
    with a PERSONALIZATION consent (design: privacy)."""
    for table in ("silver_preferences_consolidated", "silver_engagement_metrics", "silver_satisfaction_scores"):
        cursor.execute(f"DELETE FROM {table} WHERE guest_key IN (SELECT guest_key FROM pz_changed)")
    total = len(ROOM_ATTRIBUTES) + len(SERVICE_CATEGORIES)
    cursor.execute(f"""
        INSERT INTO silver_preferences_consolidated
        SELECT p.guest_key,
          coalesce(jsonb_object_agg(p.attribute, p.value) FILTER (WHERE p.category = 'room'), '{{}}'),
          coalesce(jsonb_object_agg(p.attribute, p.value) FILTER (WHERE p.category = 'service'), '{{}}'),
          round(100.0 * count(*) / {total})::int
        FROM silver_preference_values p JOIN pz_changed k ON k.guest_key = p.guest_key {CONSENTED.format(alias='p')}
        GROUP BY p.guest_key""")
    cursor.execute(f"""
        WITH social AS (
          SELECT a.guest_key, count(*) AS n, round(avg(a.sentiment), 3) AS sentiment
          FROM silver_social_activity a JOIN pz_changed k ON k.guest_key = a.guest_key {CONSENTED.format(alias='a')}
          GROUP BY a.guest_key
        ), topics AS (
          SELECT guest_key, jsonb_object_agg(topic, n) AS topics FROM (
            SELECT a.guest_key, a.topic, count(*) AS n
            FROM silver_social_activity a JOIN pz_changed k ON k.guest_key = a.guest_key {CONSENTED.format(alias='a')}
            WHERE a.topic IS NOT NULL GROUP BY a.guest_key, a.topic) t GROUP BY guest_key
        ), messages AS (
          SELECT m.guest_key, count(*) AS n, count(*) FILTER (WHERE m.is_read) AS read
          FROM silver_message_statuses m JOIN pz_changed k ON k.guest_key = m.guest_key GROUP BY m.guest_key
        )
        INSERT INTO silver_engagement_metrics
        SELECT k.guest_key, coalesce(s.n, 0), s.sentiment,
          CASE WHEN s.sentiment IS NULL THEN NULL WHEN s.sentiment >= 0.3 THEN 'positive'
               WHEN s.sentiment <= -0.3 THEN 'negative' ELSE 'neutral' END,
          coalesce(t.topics, '{{}}'), coalesce(m.n, 0), coalesce(m.read, 0), round(m.read::numeric / nullif(m.n, 0), 4)
        FROM pz_changed k LEFT JOIN social s ON s.guest_key = k.guest_key
        LEFT JOIN topics t ON t.guest_key = k.guest_key LEFT JOIN messages m ON m.guest_key = k.guest_key
        WHERE s.guest_key IS NOT NULL OR m.guest_key IS NOT NULL""")
    # Reviews, and whether the day-1 satisfaction check was read (replies are conversations we do not store).
    cursor.execute("""
        WITH reviews AS (
          SELECT r.guest_key, count(*) AS n, round(avg(r.rating), 2) AS avg_rating,
            (array_agg(r.rating ORDER BY r.submitted_at DESC NULLS LAST, r.review_key DESC))[1] AS last_rating,
            count(*) FILTER (WHERE r.rating <= 2) AS low, round((avg(r.rating) - 1) / 4 * 100)::int AS satisfaction
          FROM silver_reviews r JOIN pz_changed k ON k.guest_key = r.guest_key GROUP BY r.guest_key
        ), day1 AS (
          SELECT m.guest_key, count(*) AS n, count(*) FILTER (WHERE m.is_read) AS read
          FROM silver_message_statuses m JOIN pz_changed k ON k.guest_key = m.guest_key
          WHERE m.event_type = %s GROUP BY m.guest_key
        )
        INSERT INTO silver_satisfaction_scores
        SELECT coalesce(r.guest_key, d.guest_key), coalesce(r.n, 0), r.avg_rating, r.last_rating, coalesce(r.low, 0),
          r.satisfaction, coalesce(d.n, 0), coalesce(d.read, 0)
        FROM reviews r FULL JOIN day1 d ON d.guest_key = r.guest_key""", [SATISFACTION_CHECK])


def _gold(cursor, as_of: dt.date) -> None:
    """gold_guest_facts and gold_recommendation_features for the changed guests; each source aggregated per
    guest first, then joined one row to one row."""
    for table in ("gold_guest_facts", "gold_recommendation_features"):
        cursor.execute(f"DELETE FROM {table} WHERE guest_key IN (SELECT guest_key FROM pz_changed)")
    addon_taken = ", ".join(f"'{a}', count(*) FILTER (WHERE '{a}' = ANY(s.addons))" for a in ADDONS)
    addon_asked = ", ".join(f"'{a}', count(*) FILTER (WHERE r.request_type = '{a}')" for a in ADDONS)
    cursor.execute(f"""
        WITH bk AS (
          SELECT b.guest_key, count(*) AS bookings, count(*) FILTER (WHERE b.is_cancelled) AS cancellations,
            count(*) FILTER (WHERE b.is_direct AND NOT b.is_cancelled) AS direct_bookings,
            round(avg(b.lead_days) FILTER (WHERE NOT b.is_cancelled), 2) AS avg_lead_days,
            mode() WITHIN GROUP (ORDER BY b.listing_type) FILTER (WHERE NOT b.is_cancelled) AS room_type,
            mode() WITHIN GROUP (ORDER BY b.channel) FILTER (WHERE NOT b.is_cancelled) AS channel
          FROM silver_bookings_enriched b JOIN pz_changed k ON k.guest_key = b.guest_key GROUP BY b.guest_key
        ), st AS (
          SELECT s.guest_key, count(*) AS stays, sum(s.nights) AS nights, sum(s.spend_total) AS ltv,
            min(s.checkin) AS first_stay, max(s.checkout) AS last_stay,
            count(*) FILTER (WHERE s.checkout > %(as_of)s::date - 365 AND s.checkout <= %(as_of)s) AS last_year,
            count(*) FILTER (WHERE s.checkout > %(as_of)s::date - 730 AND s.checkout <= %(as_of)s::date - 365) AS prior_year,
            jsonb_build_object({addon_taken}) AS addon_taken,
            count(*) FILTER (WHERE 'WIFI' = ANY(s.issues)) AS wifi_issues,
            count(*) FILTER (WHERE s.early_departure) AS early_departures
          FROM silver_stays_processed s JOIN pz_changed k ON k.guest_key = s.guest_key GROUP BY s.guest_key
        ), spend AS (  -- spend per night of the last two stays against the ones before
          SELECT guest_key, round(avg(spend_per_night) FILTER (WHERE n <= 2), 2) AS recent,
            round(avg(spend_per_night) FILTER (WHERE n > 2), 2) AS earlier
          FROM (SELECT s.guest_key, s.spend_per_night,
                  row_number() OVER (PARTITION BY s.guest_key ORDER BY s.checkin DESC, s.booking_key DESC) AS n
                FROM silver_stays_processed s JOIN pz_changed k ON k.guest_key = s.guest_key) x
          GROUP BY guest_key
        ), rq AS (
          SELECT r.guest_key, jsonb_build_object({addon_asked}) AS addon_requested
          FROM silver_special_requests r JOIN pz_changed k ON k.guest_key = r.guest_key GROUP BY r.guest_key
        ), pm AS (
          SELECT p.guest_key, mode() WITHIN GROUP (ORDER BY p.method_type) AS method
          FROM silver_payment_methods p JOIN pz_changed k ON k.guest_key = p.guest_key GROUP BY p.guest_key
        )
        INSERT INTO gold_guest_facts
        SELECT k.guest_key, g.guest_key, coalesce(g.personalization_consent, false),
          coalesce(bk.bookings, 0), coalesce(bk.cancellations, 0), coalesce(bk.direct_bookings, 0),
          coalesce(st.stays, 0), coalesce(st.nights, 0), coalesce(st.ltv, 0), st.first_stay, st.last_stay,
          coalesce(st.last_year, 0), coalesce(st.prior_year, 0), spend.recent, spend.earlier,
          coalesce(st.addon_taken, '{{}}'), coalesce(rq.addon_requested, '{{}}'), coalesce(st.wifi_issues, 0),
          coalesce(st.early_departures, 0), bk.avg_lead_days, bk.room_type, bk.channel, pm.method,
          sat.avg_rating, coalesce(sat.low_ratings, 0), coalesce(sat.reviews, 0), en.read_rate, en.sentiment_band,
          CASE WHEN g.personalization_consent THEN ly.tier END,
          CASE WHEN g.personalization_consent THEN coalesce(ly.points, 0) ELSE 0 END,
          coalesce(pf.completeness, 0), coalesce(pf.room, '{{}}'), coalesce(pf.service, '{{}}'), %(as_of)s
        FROM pz_changed k
        LEFT JOIN silver_guests_standardized g ON g.guest_key = k.guest_key
        LEFT JOIN bk ON bk.guest_key = k.guest_key LEFT JOIN st ON st.guest_key = k.guest_key
        LEFT JOIN spend ON spend.guest_key = k.guest_key LEFT JOIN rq ON rq.guest_key = k.guest_key
        LEFT JOIN pm ON pm.guest_key = k.guest_key
        LEFT JOIN silver_satisfaction_scores sat ON sat.guest_key = k.guest_key
        LEFT JOIN silver_engagement_metrics en ON en.guest_key = k.guest_key
        LEFT JOIN silver_loyalty ly ON ly.guest_key = k.guest_key
        LEFT JOIN silver_preferences_consolidated pf ON pf.guest_key = k.guest_key
        WHERE g.guest_key IS NOT NULL""", {"as_of": as_of})
    _recommendation_features(cursor)


# Category affinity (the portal's recommendation categories) from what a guest told us or did.
AFFINITY_SIGNALS = {
    "RESTAURANT": {"service": ("dining",), "topics": ("food", "dining", "restaurants"), "requests": ()},
    "CAFE": {"service": (), "topics": ("coffee", "cafe", "cafes"), "requests": ()},
    "ATTRACTION": {"service": ("activities",), "topics": ("sightseeing", "travel", "nature", "culture"), "requests": ()},
    "TRANSPORT": {"service": ("transport",), "topics": ("transport",), "requests": ("AIRPORT_TRANSFER",)},
    "SHOPPING": {"service": ("shopping",), "topics": ("shopping", "fashion"), "requests": ()},
}


def _recommendation_features(cursor) -> None:
    """Affinity per category = preference stated (weight 3) + social posts on the topic (1 each) + requests
    (2 each), normalized to shares that sum to 1. Explainable: the counts are kept in `factors`."""
    parts = []
    for category, signals in AFFINITY_SIGNALS.items():
        service = " + ".join(f"3 * (f.service_preferences ? '{s}')::int" for s in signals["service"]) or "0"
        topics = " + ".join(f"coalesce((en.topics->>'{t}')::int, 0)" for t in signals["topics"]) or "0"
        requests = " + ".join(f"2 * coalesce((f.addon_requested->>'{r}')::int + (f.addon_taken->>'{r}')::int, 0)"
                              for r in signals["requests"]) or "0"
        parts.append(f"('{category}', ({service}) + ({topics}) + ({requests}))")
    cursor.execute(_RECOMMENDATION_SQL.format(values=", ".join(parts)))


_RECOMMENDATION_SQL = """
    INSERT INTO gold_recommendation_features
    SELECT f.guest_key,
      coalesce(a.affinity, '{{}}'), a.top_category, f.preferred_room_type, f.avg_lead_days,
      jsonb_build_object('weights', coalesce(a.weights, '{{}}'), 'consent', f.personalization_consent)
    FROM gold_guest_facts f JOIN pz_changed k ON k.guest_key = f.guest_key
    LEFT JOIN silver_engagement_metrics en ON en.guest_key = f.guest_key
    CROSS JOIN LATERAL (
      SELECT jsonb_object_agg(c, round(w::numeric / nullif(tot, 0), 3)) FILTER (WHERE w > 0) AS affinity,
        jsonb_object_agg(c, w) FILTER (WHERE w > 0) AS weights,
        (array_agg(c ORDER BY w DESC, c) FILTER (WHERE w > 0))[1] AS top_category
      FROM (SELECT c, w, sum(w) OVER () AS tot FROM (VALUES {values}) v(c, w)) raw
      WHERE f.personalization_consent
    ) a"""


def _business_metrics(cursor) -> int:
    """Per property and month of check-in: revenue, bookings, unique guests (guests, not bookings), ADR,
    occupancy (nights over listings x days), repeat rate (guests whose first stay was in an earlier month),
    direct share and satisfaction. Only the property-months touched are rebuilt."""
    cursor.execute("SELECT count(*) FROM pz_months")
    months = cursor.fetchone()[0]
    if not months:
        return 0
    cursor.execute("DELETE FROM gold_business_metrics m USING pz_months p "
                   "WHERE m.property_id = p.property_id AND m.month = p.month")
    cursor.execute("""
        WITH b AS (
          SELECT b.*, date_trunc('month', b.checkin)::date AS month FROM silver_bookings_enriched b
          JOIN pz_months p ON p.property_id = b.property_id
            AND b.checkin >= p.month AND b.checkin < p.month + interval '1 month'
          WHERE NOT b.is_cancelled
        ), firsts AS (
          SELECT s.guest_key, min(s.checkin) AS first_stay FROM silver_stays_processed s
          WHERE s.guest_key IN (SELECT guest_key FROM b) GROUP BY s.guest_key
        ), agg AS (
          SELECT b.property_id, b.month, sum(b.amount) AS revenue, count(*) AS bookings,
            count(DISTINCT b.guest_key) AS unique_guests, sum(b.nights) AS nights,
            count(DISTINCT b.guest_key) FILTER (WHERE f.first_stay < b.month) AS repeat_guests,
            count(*) FILTER (WHERE b.is_direct) AS direct
          FROM b LEFT JOIN firsts f ON f.guest_key = b.guest_key GROUP BY b.property_id, b.month
        ), listings AS (
          SELECT property_id, count(*) AS n FROM bookings_listing WHERE is_active GROUP BY property_id
        ), sat AS (
          SELECT b.property_id, b.month, round(avg(r.rating), 2) AS rating
          FROM silver_reviews r JOIN b ON b.booking_key = r.booking_key GROUP BY b.property_id, b.month
        )
        INSERT INTO gold_business_metrics
        SELECT a.property_id, a.month, a.revenue, a.bookings, a.unique_guests, a.nights,
          round(a.revenue / nullif(a.nights, 0), 2),
          round(a.nights::numeric / nullif(l.n * extract(day FROM a.month + interval '1 month' - interval '1 day'), 0), 4),
          round(a.repeat_guests::numeric / nullif(a.unique_guests, 0), 4),
          round(a.direct::numeric / nullif(a.bookings, 0), 4), s.rating
        FROM agg a LEFT JOIN listings l ON l.property_id = a.property_id
        LEFT JOIN sat s ON s.property_id = a.property_id AND s.month = a.month""")
    return months

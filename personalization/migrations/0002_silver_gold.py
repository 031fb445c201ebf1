"""Silver and gold layers as plain SQL tables and views in each tenant schema (personalization design doc).

Tables hold facts that do not depend on the day they are read (written by the refresh, per guest or per
property-month); views derive what does (recency, churn, quartiles) from the `as_of` date of the last
refresh, so a guest left out of an incremental refresh never shows a stale recency.
"""
from django.db import migrations

FUNCTIONS = r"""
-- E.164 for the numbers hosts in India see: +CC..., 10-digit mobiles, 0-prefixed, 91-prefixed.
CREATE FUNCTION pz_phone_parse(raw text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN d = '' THEN NULL
    WHEN btrim(raw) LIKE '+%' AND length(d) BETWEEN 8 AND 15 THEN '+' || d
    WHEN length(d) = 10 AND d ~ '^[6-9]' THEN '+91' || d
    WHEN length(d) = 11 AND d ~ '^0[6-9]' THEN '+91' || substr(d, 2)
    WHEN length(d) = 12 AND d ~ '^91[6-9]' THEN '+' || d
    ELSE NULL END
  FROM (SELECT regexp_replace(coalesce(raw, ''), '\D', '', 'g') AS d) x $$;

-- Most numbers arrive in E.164 already (imports are normalized when checked): a one-regex fast path that the
-- planner inlines, the full parse only for the rest.
CREATE FUNCTION pz_phone(raw text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN raw ~ '^\+[1-9][0-9]{7,14}$' THEN raw ELSE pz_phone_parse(raw) END $$;

CREATE FUNCTION pz_email(raw text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN lower(btrim(raw)) ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' THEN lower(btrim(raw)) END $$;

-- Source precedence for consolidated preferences: our own capture, then a PMS, then anything else.
CREATE FUNCTION pz_precedence(source_system text) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE source_system WHEN 'atlas' THEN 3 WHEN 'pms' THEN 2 ELSE 1 END $$;
"""

SILVER = r"""
CREATE TABLE silver_guest_keys (
  identity text PRIMARY KEY,            -- 'phone:+91...' or 'email:...'
  guest_key bigint NOT NULL             -- = guests_guest.id: one guest key across every source
);
CREATE INDEX silver_guest_keys_guest ON silver_guest_keys (guest_key);

CREATE TABLE silver_unmatched (          -- external records waiting for a guest with their phone or email
  source text NOT NULL, bronze_id bigint NOT NULL, PRIMARY KEY (source, bronze_id)
);

CREATE TABLE silver_guests_standardized (
  guest_key bigint PRIMARY KEY, bronze_id bigint NOT NULL, name text, phone_e164 text, email text,
  city text, country text, personalization_consent boolean NOT NULL DEFAULT false, first_seen date
);

CREATE TABLE silver_bookings_enriched (
  booking_key text PRIMARY KEY, bronze_id bigint NOT NULL, guest_key bigint NOT NULL, property_id int,
  listing_type text NOT NULL, channel text NOT NULL, status text NOT NULL, booked_at timestamptz,
  checkin date NOT NULL, checkout date NOT NULL, nights int NOT NULL, amount numeric(12,2) NOT NULL,
  adr numeric(12,2), lead_days int, lead_bucket text, stay_bucket text NOT NULL, is_weekend boolean NOT NULL,
  is_cancelled boolean NOT NULL, is_direct boolean NOT NULL
);
CREATE INDEX silver_bookings_guest ON silver_bookings_enriched (guest_key);

CREATE TABLE silver_stays_processed (
  booking_key text PRIMARY KEY, bronze_id bigint NOT NULL, guest_key bigint NOT NULL, property_id int,
  checkin date NOT NULL, checkout date NOT NULL, nights int NOT NULL, spend_total numeric(12,2) NOT NULL,
  spend_per_night numeric(12,2), addons text[] NOT NULL, issues text[] NOT NULL, early_departure boolean NOT NULL
);
CREATE INDEX silver_stays_guest ON silver_stays_processed (guest_key);

CREATE TABLE silver_preference_values (
  guest_key bigint NOT NULL, category text NOT NULL, attribute text NOT NULL, value text NOT NULL,
  precedence int NOT NULL, observed_at timestamptz, bronze_id bigint NOT NULL,
  PRIMARY KEY (guest_key, category, attribute)
);

CREATE TABLE silver_preferences_consolidated (   -- only guests with a PERSONALIZATION consent
  guest_key bigint PRIMARY KEY, room jsonb NOT NULL, service jsonb NOT NULL, completeness int NOT NULL
);

CREATE TABLE silver_social_activity (
  activity_key text PRIMARY KEY, bronze_id bigint NOT NULL, guest_key bigint NOT NULL, platform text,
  activity_type text, sentiment numeric(4,3), topic text, occurred_at timestamptz
);
CREATE INDEX silver_social_guest ON silver_social_activity (guest_key);

CREATE TABLE silver_message_statuses (
  log_key text PRIMARY KEY, bronze_id bigint NOT NULL, guest_key bigint NOT NULL, event_type text,
  channel text, status text, is_read boolean NOT NULL
);
CREATE INDEX silver_messages_guest ON silver_message_statuses (guest_key);

CREATE TABLE silver_engagement_metrics (
  guest_key bigint PRIMARY KEY, social_events int NOT NULL, avg_sentiment numeric(4,3), sentiment_band text,
  topics jsonb NOT NULL, messages int NOT NULL, messages_read int NOT NULL, read_rate numeric(5,4)
);

CREATE TABLE silver_reviews (
  review_key text PRIMARY KEY, bronze_id bigint NOT NULL, guest_key bigint NOT NULL, booking_key text,
  property_id int, rating int NOT NULL, cleanliness int, communication int, location int, value int,
  submitted_at timestamptz
);
CREATE INDEX silver_reviews_guest ON silver_reviews (guest_key);

CREATE TABLE silver_satisfaction_scores (
  guest_key bigint PRIMARY KEY, reviews int NOT NULL, avg_rating numeric(3,2), last_rating int,
  low_ratings int NOT NULL, satisfaction int,
  day1_checks int NOT NULL, day1_checks_read int NOT NULL  -- the day-1 "how is your stay?" message, read or not
);

CREATE TABLE silver_loyalty (
  guest_key bigint PRIMARY KEY, bronze_id bigint NOT NULL, tier text, points int NOT NULL, as_of date
);

CREATE TABLE silver_payment_methods (
  record_key text PRIMARY KEY, bronze_id bigint NOT NULL, guest_key bigint NOT NULL, method_type text NOT NULL,
  used_at timestamptz
);
CREATE INDEX silver_payments_guest ON silver_payment_methods (guest_key);

CREATE TABLE silver_special_requests (
  request_key text PRIMARY KEY, bronze_id bigint NOT NULL, guest_key bigint NOT NULL, booking_key text,
  request_type text NOT NULL, category text, requested_at timestamptz
);
CREATE INDEX silver_requests_guest ON silver_special_requests (guest_key);
"""

GOLD = r"""
-- Everything known about a guest that does not depend on the day it is read; one row per guest.
CREATE TABLE gold_guest_facts (
  guest_key bigint PRIMARY KEY, guest_id bigint, personalization_consent boolean NOT NULL,
  bookings int NOT NULL, cancellations int NOT NULL, direct_bookings int NOT NULL,
  stays int NOT NULL, nights int NOT NULL, lifetime_value numeric(14,2) NOT NULL,
  first_stay date, last_stay date, stays_last_year int NOT NULL, stays_prior_year int NOT NULL,
  recent_spend_per_night numeric(12,2), earlier_spend_per_night numeric(12,2),
  addon_taken jsonb NOT NULL, addon_requested jsonb NOT NULL, wifi_issues int NOT NULL,
  early_departures int NOT NULL, avg_lead_days numeric(8,2), preferred_room_type text, preferred_channel text,
  preferred_payment text, avg_rating numeric(3,2), low_ratings int NOT NULL, reviews int NOT NULL,
  read_rate numeric(5,4), sentiment_band text, loyalty_tier text, loyalty_points int NOT NULL,
  preference_completeness int NOT NULL, room_preferences jsonb NOT NULL, service_preferences jsonb NOT NULL,
  as_of date NOT NULL
);

CREATE TABLE gold_recommendation_features (
  guest_key bigint PRIMARY KEY, affinity jsonb NOT NULL, top_category text, preferred_room_type text,
  avg_lead_days numeric(8,2), factors jsonb NOT NULL
);

CREATE TABLE gold_business_metrics (
  property_id int NOT NULL, month date NOT NULL, revenue numeric(14,2) NOT NULL, bookings int NOT NULL,
  unique_guests int NOT NULL, nights int NOT NULL, adr numeric(12,2), occupancy numeric(6,4),
  repeat_rate numeric(6,4), direct_share numeric(6,4), satisfaction numeric(3,2),
  PRIMARY KEY (property_id, month)
);

CREATE VIEW gold_as_of AS
  SELECT coalesce((SELECT as_of FROM personalization_refresh_state WHERE step = 'gold'), current_date) AS as_of;

-- Segment, lifetime value and churn risk by recency (relative to the last refresh's as_of date).
CREATE VIEW gold_guest_360_view AS
  SELECT f.*, (a.as_of - f.last_stay) AS recency_days,
    CASE WHEN f.stays = 0 THEN 'prospect'
         WHEN a.as_of - f.last_stay > 365 THEN 'dormant'
         WHEN f.stays >= 5 THEN 'loyal'
         WHEN f.stays >= 2 THEN 'repeat'
         ELSE 'first_time' END AS segment,
    CASE WHEN f.stays = 0 THEN NULL
         WHEN a.as_of - f.last_stay <= 180 THEN 'low'
         WHEN a.as_of - f.last_stay <= 365 THEN 'medium'
         ELSE 'high' END AS churn_risk
  FROM gold_guest_facts f CROSS JOIN gold_as_of a;

-- The scores, 0-100 each (README "Personalization scores" explains them):
--  readiness: what we know to personalize with, only with consent: 40 x preference completeness
--    + 20 if stayed + 20 if reviewed or engaged + 20 if loyalty data;
--  upsell_<addon>: a Beta(1,4) prior (20 %) updated by past stays: (taken + requested + 1) / (stays + 5);
--  loyalty: 12 per stay up to 5, tier bonus (silver 10, gold 20, platinum 30), 1 per 1,000 points up to 10;
--  churn_probability: 1 - exp(-recency / (180 x (1 + 0.5 x min(stays - 1, 4)))): frequent guests
--    come back after longer gaps, so the same silence worries us less.
CREATE VIEW gold_personalization_scores AS
  SELECT v.guest_key, v.guest_id,
    CASE WHEN NOT v.personalization_consent THEN 0 ELSE
      round(40 * v.preference_completeness / 100.0 + 20 * (v.stays > 0)::int
            + 20 * (v.reviews > 0 OR v.read_rate IS NOT NULL OR v.sentiment_band IS NOT NULL)::int
            + 20 * (v.loyalty_tier IS NOT NULL)::int)::int END AS readiness,
    round(100.0 * (coalesce((v.addon_taken->>'LATE_CHECKOUT')::int, 0) + coalesce((v.addon_requested->>'LATE_CHECKOUT')::int, 0) + 1) / (v.stays + 5))::int AS upsell_late_checkout,
    round(100.0 * (coalesce((v.addon_taken->>'EARLY_CHECKIN')::int, 0) + coalesce((v.addon_requested->>'EARLY_CHECKIN')::int, 0) + 1) / (v.stays + 5))::int AS upsell_early_checkin,
    round(100.0 * (coalesce((v.addon_taken->>'EXTRA_CLEANING')::int, 0) + coalesce((v.addon_requested->>'EXTRA_CLEANING')::int, 0) + 1) / (v.stays + 5))::int AS upsell_extra_cleaning,
    round(100.0 * (coalesce((v.addon_taken->>'AIRPORT_TRANSFER')::int, 0) + coalesce((v.addon_requested->>'AIRPORT_TRANSFER')::int, 0) + 1) / (v.stays + 5))::int AS upsell_airport_transfer,
    least(100, 12 * least(v.stays, 5)
      + CASE v.loyalty_tier WHEN 'platinum' THEN 30 WHEN 'gold' THEN 20 WHEN 'silver' THEN 10 ELSE 0 END
      + least(10, v.loyalty_points / 1000))::int AS loyalty,
    CASE WHEN v.stays = 0 THEN NULL ELSE
      round(100 * (1 - exp(-v.recency_days / (180.0 * (1 + 0.5 * least(v.stays - 1, 4))))))::int END AS churn_probability,
    jsonb_build_object('stays', v.stays, 'recency_days', v.recency_days, 'addon_taken', v.addon_taken,
      'addon_requested', v.addon_requested, 'loyalty_tier', v.loyalty_tier, 'loyalty_points', v.loyalty_points,
      'preference_completeness', v.preference_completeness, 'consent', v.personalization_consent) AS factors
  FROM gold_guest_360_view v;

-- RFM by quartiles over every guest with a stay (4 = best), recency/frequency/monetary and trends.
CREATE VIEW gold_predictive_features AS
  SELECT v.guest_key, v.guest_id, v.recency_days, v.stays AS frequency, v.lifetime_value AS monetary,
    ntile(4) OVER (ORDER BY v.recency_days DESC, v.guest_key) AS r_quartile,
    ntile(4) OVER (ORDER BY v.stays, v.guest_key) AS f_quartile,
    ntile(4) OVER (ORDER BY v.lifetime_value, v.guest_key) AS m_quartile,
    v.stays_last_year - v.stays_prior_year AS stay_trend,
    CASE WHEN v.earlier_spend_per_night > 0
         THEN round((v.recent_spend_per_night / v.earlier_spend_per_night - 1) * 100, 1) END AS spend_trend_pct,
    v.cancellations::numeric / nullif(v.bookings, 0) AS cancellation_rate,
    v.avg_lead_days
  FROM gold_guest_360_view v WHERE v.stays > 0;
"""

DROP = r"""
DROP VIEW IF EXISTS gold_predictive_features, gold_personalization_scores, gold_guest_360_view, gold_as_of;
DROP TABLE IF EXISTS gold_business_metrics, gold_recommendation_features, gold_guest_facts,
  silver_special_requests, silver_payment_methods, silver_loyalty, silver_satisfaction_scores, silver_reviews,
  silver_engagement_metrics, silver_message_statuses, silver_social_activity, silver_preferences_consolidated,
  silver_preference_values, silver_stays_processed, silver_bookings_enriched, silver_guests_standardized,
  silver_unmatched, silver_guest_keys;
DROP FUNCTION IF EXISTS pz_precedence(text), pz_email(text), pz_phone(text), pz_phone_parse(text);
"""


class Migration(migrations.Migration):
    dependencies = [("personalization", "0001_initial")]

    operations = [migrations.RunSQL(FUNCTIONS + SILVER + GOLD, DROP)]

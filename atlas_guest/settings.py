"""Atlas Guest settings. Everything that differs between machines comes from the environment (README:
Configuration)."""
from __future__ import annotations

from pathlib import Path

import environ

from atlas_guest.db import database_url, fix_socket_host

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# A fixed development key keeps portal tokens stable across restarts on a laptop; production sets its own.
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
PORTAL_TOKEN_SECRET = env.str("PORTAL_TOKEN_SECRET", default=SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[".localhost", "localhost", "127.0.0.1", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=["http://*.localhost:8000", "http://localhost:8000"])

# The base domain under which tenants are served: `<slug>.<TENANT_BASE_DOMAIN>`.
TENANT_BASE_DOMAIN = env.str("TENANT_BASE_DOMAIN", default="localhost")
# Scheme and port used when building links that leave the server (portal links in messages).
PUBLIC_URL_SCHEME = env.str("PUBLIC_URL_SCHEME", default="http")
PUBLIC_URL_PORT = env.str("PUBLIC_URL_PORT", default="8000")

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django_q",
    "rest_framework",
    "rest_framework.authtoken",  # in both: deleting a user anywhere must find its tokens' table
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "rest_framework.authtoken",
    "guests",
    "bookings",
    "operations",
    "messaging",
    "portal",
    "reviews",
    "coupons",
    "personalization",
    "intake",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "atlas_guest.urls_public"
ROOT_URLCONF = "atlas_guest.urls"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# Set the search path once per schema switch, not before every query (halves the queries of a hot path).
TENANT_LIMIT_SET_CALLS = True
# django-tenants paints tenant apps' headers green in the admin: noise in a host's back office.
TENANT_COLOR_ADMIN_APPS = False

MIDDLEWARE = [
    "portal.middleware.TenantMiddleware",  # django-tenants' middleware, lean on the portal's /guest/ paths
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "atlas_guest.wsgi.application"
ASGI_APPLICATION = "atlas_guest.asgi.application"

DATABASE_URL = database_url()
DATABASES = {"default": fix_socket_host(env.db_url_config(DATABASE_URL))}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-in"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / ".data" / "media"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's defaults, with JSON that survives hostile input (atlas_guest/api_json.py: 400s, not 500s).
    "DEFAULT_PARSER_CLASSES": [
        "atlas_guest.api_json.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "atlas_guest.api_json.SafeJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "atlas_guest.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Atlas Guest staff API",
    "DESCRIPTION": "Bookings, guests, messages, tickets, coupons and metrics of one host (the tenant of the domain).",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",  # served from this server: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # Three choice sets are all called "status": name each after its domain, not after a hash.
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "bookings.models.BookingStatus",
        "WorkStatusEnum": "operations.models.WorkStatus",
        "MessageStatusEnum": "messaging.models.LogStatus",
    },
}

# django-q2: the ORM broker keeps the queue in PostgreSQL, so nothing else has to run; REDIS_URL switches
# the broker to Redis for several machines. `retry` must exceed `timeout` (GUIDE: measured pitfalls).
Q_CLUSTER = {
    "name": "atlas_guest",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 60,
    "retry": 90,
    "max_attempts": 1,
    "catch_up": False,
    "label": "Task queue",
}
if env.str("REDIS_URL", default=""):
    Q_CLUSTER["redis"] = env.str("REDIS_URL")
else:
    Q_CLUSTER["orm"] = "default"

# Lifecycle engine knobs (RA-GUEST-001 §9.1: 30 s poll, batch 50 is the spec's baseline).
SCHEDULER_POLL_SECONDS = env.int("SCHEDULER_POLL_SECONDS", default=30)
SCHEDULER_BATCH_SIZE = env.int("SCHEDULER_BATCH_SIZE", default=500)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=500)

# Providers (RA-GUEST-001 §3.4). A channel whose credentials are unset uses the sandbox channel instead.
WHATSAPP_TOKEN = env.str("WHATSAPP_TOKEN", default="")
WHATSAPP_PHONE_ID = env.str("WHATSAPP_PHONE_ID", default="")  # the platform's number; a tenant may set its own
WHATSAPP_API_BASE = env.str("WHATSAPP_API_BASE", default="")  # blank: the Graph API; tests: a local fake
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default="")  # verifies X-Hub-Signature-256 on webhooks
WHATSAPP_VERIFY_TOKEN = env.str("WHATSAPP_VERIFY_TOKEN", default="")  # the webhook subscription handshake
WHATSAPP_MESSAGES_PER_SECOND = env.int("WHATSAPP_MESSAGES_PER_SECOND", default=80)  # Cloud API default per number
WHATSAPP_DAILY_LIMIT = env.int("WHATSAPP_DAILY_LIMIT", default=1000)  # the number's messaging-limit tier
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_API_KEY = env.str("SMS_API_KEY", default="")
SMS_SENDER_ID = env.str("SMS_SENDER_ID", default="ATLSGT")
SENDGRID_API_KEY = env.str("SENDGRID_API_KEY", default="")
SENDGRID_API_HOST = env.str("SENDGRID_API_HOST", default="https://api.sendgrid.com")
SENDGRID_WEBHOOK_PUBLIC_KEY = env.str("SENDGRID_WEBHOOK_PUBLIC_KEY", default="")
EMAIL_FROM = env.str("EMAIL_FROM", default="stays@example.com")
SMS_WEBHOOK_SECRET = env.str("SMS_WEBHOOK_SECRET", default="")  # HMAC of status callbacks (X-Signature)
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=10.0)
# How long a worker holds the messages it claimed while it sends them (issue #9); a crashed worker's claims
# are reconciled from provider webhooks, or sent again, once it has passed. Must exceed 2x the timeout.
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=120)

# Booking intake (issue 15): OTA calendar links are read with these limits. A link the host pastes is fetched
# by our server: addresses on private networks (the cloud's metadata service, the database) are refused
# unless CALENDAR_FEEDS_ALLOW_PRIVATE is set (a laptop's demo, the tests' local feed server).
CALENDAR_FEED_TIMEOUT_SECONDS = env.float("CALENDAR_FEED_TIMEOUT_SECONDS", default=15.0)
CALENDAR_FEED_MAX_BYTES = env.int("CALENDAR_FEED_MAX_BYTES", default=2 * 1024 * 1024)
CALENDAR_FEED_MAX_REDIRECTS = env.int("CALENDAR_FEED_MAX_REDIRECTS", default=5)
CALENDAR_FEED_FETCH_THREADS = env.int("CALENDAR_FEED_FETCH_THREADS", default=8)
CALENDAR_FEEDS_ALLOW_PRIVATE = env.bool("CALENDAR_FEEDS_ALLOW_PRIVATE", default=False)
# The demo host's sample Airbnb calendar at /calendar/demo/airbnb.ics (make run sets it; never in production).
ATLAS_DEMO = env.bool("ATLAS_DEMO", default=False)

# RA-GUEST-001 §5.5: emergencies also reach the Atlas admin on call.
PLATFORM_ALERT_PHONE = env.str("PLATFORM_ALERT_PHONE", default="")

_LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
_CLIENT_LOG_LEVEL = "INFO" if _LOG_LEVEL.upper() in ("DEBUG", "NOTSET") else _LOG_LEVEL  # never below INFO
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"hide_link_tokens": {"()": "atlas_guest.access_log.HideLinkTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["hide_link_tokens"]}},
    "root": {"handlers": ["console"], "level": _LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Provider clients log whole request payloads (recipient, rendered text) at DEBUG: PII, never logged,
        # even with LOG_LEVEL=DEBUG (issue #9; tests/hostile/test_pii_in_logs.py).
        **{name: {"level": _CLIENT_LOG_LEVEL} for name in ("pywa", "httpx", "httpcore", "python_http_client", "urllib3")},
    },
}

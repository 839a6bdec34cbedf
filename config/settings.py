"""Settings for every environment, read from environment variables.

The behaviour is the same everywhere; only the values differ. With no
environment at all the service runs embedded: SQLite in ``var/``, a file-system
Celery broker, a file cache and console e-mail. Production sets ``DEBUG=false``
and must then provide ``SECRET_KEY`` and ``API_KEY_PEPPER``. The README lists
every variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_database,
    env_email,
    env_fernet_keys,
    env_int,
    env_list,
    env_optional,
    env_rate,
    env_redis_url,
    env_str,
)
from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
# A local checkout keeps development defaults in .env (written by `make install`); variables set in
# the environment always win, and deployments have no .env.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

# Development gets a fixed, obviously unsafe key; production must bring its own.
_DEV_SECRET_KEY = "development-only-secret-key-never-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = env_optional("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (use a random string of 50+ characters).")

# API keys are stored as HMAC digests keyed with this pepper. It is separate from
# SECRET_KEY so that rotating SECRET_KEY does not invalidate every API key.
API_KEY_PEPPER = env_optional("API_KEY_PEPPER") or ("development-only-api-key-pepper" if DEBUG else "")
if not API_KEY_PEPPER:
    raise ImproperlyConfigured("API_KEY_PEPPER must be set when DEBUG is off (a random string of 32+ characters).")

# Fernet keys for tracker credentials, newest first (python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"). Development gets a fixed key; production must bring its own.
_DEV_FIELD_KEY = "ZGV2ZWxvcG1lbnQtb25seS1maWVsZC1rZXktMDAwMDA="
FIELD_ENCRYPTION_KEYS = env_fernet_keys("FIELD_ENCRYPTION_KEYS", [_DEV_FIELD_KEY] if DEBUG else [])
# Lifts the public-address rule for tracker and webhook URLs: only for tests against local fake trackers.
TRACKER_ALLOW_PRIVATE_URLS = env_bool("TRACKER_ALLOW_PRIVATE_URLS", False)
TRACKER_RETRY_BACKOFF = 0.5  # seconds: 429 and 5xx are retried after 0.5, 1, 2, 4 s (plus jitter) or Retry-After
# A running sync whose worker has been silent this long is taken over (the worker died mid-run).
SYNC_RUN_LEASE_SECONDS = env_int("SYNC_RUN_LEASE_SECONDS", 900, minimum=1)
# How often a connection gets a full reconciliation (catches deletions and anything missed) instead of an increment.
TRACKER_FULL_SYNC_HOURS = env_int("TRACKER_FULL_SYNC_HOURS", 24, minimum=1)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_structlog",
    "django_htmx",
    # Domain apps, lowest layer first: an app only imports the ones above it here.
    "outcomes",
    "okrs",
    "epics",
    "integrations",
    "insights",
    "web",
]

MIDDLEWARE = [
    "config.api.errors.JsonApiErrorMiddleware",
    "config.api.middleware.ReleaseRenderedResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "outcomes.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database ---------------------------------------------------------------
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web and worker write concurrently in embedded mode: take the write lock at
    # BEGIN and wait for it instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery -----------------------------------------------------
REDIS_URL = env_redis_url("REDIS_URL")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    # Nothing in the cache is precious: while Redis is away the cache finds and keeps nothing, and requests
    # go on (config/cache.py). Short socket timeouts keep an unreachable Redis from holding a request up.
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1, "retry_after": 5},
        }
    }
else:
    # A file cache is shared by the web and worker processes of one machine.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

CELERY_BROKER_URL = env_optional("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object]
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "celery-broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)  # the transport needs the folders
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any task and any countdown, so Redis never redelivers a live task.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60),
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 270
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 60, minimum=1)

# --- E-mail -------------------------------------------------------------------
_email = env_email("EMAIL_URL", "consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "OKR Outcomes <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where people reach the service: links in e-mail and Slack messages start with it.
PUBLIC_URL = env_str("PUBLIC_URL", "http://127.0.0.1:8000")

# --- Passwords, sessions, transport security -----------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 60 * 60, minimum=60)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health checks come from load balancers over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]

# --- Internationalisation -----------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- REST API -----------------------------------------------------------------
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 25, minimum=1, maximum=100)
API_MAX_PAGE_SIZE = 100
API_BROWSABLE = env_bool("API_BROWSABLE", DEBUG)
# Route -> roles tables, one per app, merged by the role permission.
# Demo data of every app, lowest layer first; seed_demo calls each with (company, people by e-mail).
DEMO_SEEDERS = ["outcomes.demo_strategy.seed_strategy", "okrs.demo.seed_okrs", "epics.demo.seed_epics"]
API_ROLE_TABLES = [
    "config.api.roles.PUBLIC_ROUTES",
    "outcomes.api.roles.ROUTE_ROLES",
    "okrs.api.roles.ROUTE_ROLES",
    "epics.api.roles.ROUTE_ROLES",
    "integrations.api.roles.ROUTE_ROLES",
    "integrations.api.reminders.ROUTE_ROLES",
    "insights.api.roles.ROUTE_ROLES",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "outcomes.api.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["outcomes.api.permissions.RoleTablePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if API_BROWSABLE else []),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["config.api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PageNumberPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_THROTTLE_CLASSES": [
        "config.api.throttling.PrincipalRateThrottle",
        "config.api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anonymous": env_rate("API_THROTTLE_ANONYMOUS", "60/min"),
        "principal": env_rate("API_THROTTLE_AUTHENTICATED", "1200/min"),
    },
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, minimum=0),
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OKR Outcomes API",
    "DESCRIPTION": (
        "Strategy, OKRs and epics with anticipated and actual outcomes.\n\n"
        "Company data lives under `/api/v1/companies/{company_slug}/`. People sign in with a "
        "session; machines send `Authorization: Bearer <api key>`. Every error has the same "
        "JSON shape (`Error`). Lists are paginated, with `page_size` up to 100: by `page` number, "
        "or, for the lists that grow with activity (epics, status history, check-ins, measurements, "
        "sync runs, deliveries, reminders), by the `cursor` of their `next` and `previous` links."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CurrencyEnum": "outcomes.currencies.CURRENCY_CHOICES",
        "SwotKindEnum": "outcomes.choices.SwotKind",
        "StrategyStatusEnum": "outcomes.choices.StrategyStatus",
        "MeasurementSourceEnum": "outcomes.choices.MeasurementSource",
        "CycleStatusEnum": "okrs.choices.CycleStatus",
        "OpenCycleStatusEnum": "okrs.choices.OPEN_CYCLE_STATUSES",
        "ProgressStatusEnum": "okrs.choices.Status",
        "KeyResultKindEnum": "okrs.choices.KeyResultKind",
        "CheckInSourceEnum": "okrs.choices.CheckInSource",
        "EpicStatusEnum": "epics.choices.EpicStatus",
        "VerdictEnum": "epics.choices.Verdict",
        "ReviewPhaseEnum": "epics.choices.ReviewPhase",
        "ChangeSourceEnum": "epics.choices.ChangeSource",
        "TrackerAbsenceEnum": "epics.choices.TrackerAbsence",
        "TrackerKindEnum": "integrations.choices.TrackerKind",
        "SyncRunStatusEnum": "integrations.choices.SyncRunStatus",
        "DeliveryStatusEnum": "integrations.choices.DeliveryStatus",
        "ReminderKindEnum": "integrations.choices.ReminderKind",
        "ReminderStatusEnum": "integrations.choices.ReminderStatus",
        "ChannelEnum": "integrations.choices.Channel",
        "OutboundEventEnum": "integrations.choices.OutboundEvent",
        "OutboundStatusEnum": "integrations.choices.OutboundStatus",
    },
}

# --- Logging ------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOG_FORMAT = env_choice("LOG_FORMAT", "console" if DEBUG else "json", ("console", "json"))
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
DJANGO_STRUCTLOG_CELERY_ENABLED = False

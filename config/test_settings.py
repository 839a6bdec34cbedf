"""Test overrides: only what makes the suite fast and hermetic; behaviour stays as in settings."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789-abcdefghijklmnop")
os.environ.setdefault("API_KEY_PEPPER", "test-api-key-pepper-0123456789abcdef")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEYS", "dGVzdC1maWVsZC1rZXktbmV3LTAwMDAwMDAwMDAwMDA=,dGVzdC1maWVsZC1rZXktb2xkLTAwMDAwMDAwMDAwMDA="
)

from config.settings import *  # noqa: F403
from config.settings import DATA_DIR, REST_FRAMEWORK

# One fast hash: the suite signs people in thousands of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "test-celerybeat-schedule")
# Throttles are exercised by their own tests with explicit rates.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anonymous": "100000/min", "principal": "100000/min"}}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Retries against fake trackers need not wait.
TRACKER_RETRY_BACKOFF = 0.001
# Serve static files without scanning STATIC_ROOT at start-up (no collectstatic in tests).
WHITENOISE_AUTOREFRESH = True

"""Settings come from the environment: strict readers, and start-up that refuses unsafe production config."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_database, env_int, env_list, env_rate, env_redis_url, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# Every variable config/settings.py reads (plus the settings module itself): a subprocess starts from none of them,
# so that the values config.test_settings put into this process's environment cannot leak into it.
SETTINGS_VARIABLES = (
    "ALLOWED_HOSTS",
    "API_BROWSABLE",
    "API_KEY_PEPPER",
    "API_PAGE_SIZE",
    "API_THROTTLE_ANONYMOUS",
    "API_THROTTLE_AUTHENTICATED",
    "BEHIND_TLS_PROXY",
    "CELERY_BROKER_URL",
    "CELERY_VISIBILITY_TIMEOUT",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_CONN_MAX_AGE",
    "DATABASE_URL",
    "DATA_DIR",
    "DEBUG",
    "DEFAULT_FROM_EMAIL",
    "DJANGO_SETTINGS_MODULE",
    "EMAIL_URL",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "NUM_PROXIES",
    "REDIS_URL",
    "SECRET_KEY",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_HSTS_SECONDS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_AGE",
    "WORKER_HEARTBEAT_SECONDS",
)

SETUP_ONLY = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup()"


# --- the readers --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("Yes", True),
        ("on", True),
        ("ON", True),
        (" true ", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("NO", False),
        ("off", False),
        ("Off", False),
    ],
)
def test_env_bool_accepts_the_boolean_words_case_insensitively(monkeypatch, raw, expected):
    monkeypatch.setenv("OKR_TEST_FLAG", raw)

    # The default is the opposite, so a reader that ignored the value would fail.
    assert env_bool("OKR_TEST_FLAG", not expected) is expected


def test_env_bool_refuses_other_words_naming_variable_and_value(monkeypatch):
    monkeypatch.setenv("OKR_TEST_FLAG", "maybe")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_bool("OKR_TEST_FLAG", True)

    message = str(excinfo.value)
    assert "OKR_TEST_FLAG" in message
    assert "'maybe'" in message
    assert "true" in message  # says what it expected


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_values_fall_back_to_the_default(monkeypatch, raw):
    for name in ("OKR_TEST_FLAG", "OKR_TEST_INT", "OKR_TEST_RATE", "OKR_TEST_DB", "OKR_TEST_REDIS", "OKR_TEST_LIST"):
        monkeypatch.setenv(name, raw)

    assert env_bool("OKR_TEST_FLAG", True) is True
    assert env_int("OKR_TEST_INT", 7, minimum=1) == 7
    assert env_rate("OKR_TEST_RATE", "60/min") == "60/min"
    assert env_database("OKR_TEST_DB", "sqlite:///okr-default.sqlite3")["NAME"] == "okr-default.sqlite3"
    assert env_redis_url("OKR_TEST_REDIS") is None
    assert env_list("OKR_TEST_LIST", ["localhost"]) == ["localhost"]
    assert env_str("OKR_TEST_LIST", "fallback") == "fallback"


def test_unset_variables_fall_back_to_the_default(monkeypatch):
    monkeypatch.delenv("OKR_TEST_INT", raising=False)

    assert env_int("OKR_TEST_INT", 25, minimum=1, maximum=100) == 25


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("25", 25), ("100", 100), (" 42 ", 42)])
def test_env_int_reads_whole_numbers_within_bounds(monkeypatch, raw, expected):
    monkeypatch.setenv("OKR_TEST_INT", raw)

    assert env_int("OKR_TEST_INT", 50, minimum=1, maximum=100) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0", "must be at least 1"),
        ("101", "must be at most 100"),
        ("-5", "must be at least 1"),
        ("abc", "invalid literal"),
        ("2.5", "invalid literal"),
    ],
)
def test_env_int_refuses_out_of_bounds_and_non_numbers(monkeypatch, raw, reason):
    monkeypatch.setenv("OKR_TEST_INT", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_int("OKR_TEST_INT", 50, minimum=1, maximum=100)

    message = str(excinfo.value)
    assert f"OKR_TEST_INT={raw!r}" in message
    assert "a whole number" in message
    assert reason in message


@pytest.mark.parametrize("raw", ["60/min", "1/s", "10/second", "5/hour", "1000/day", "3/m"])
def test_env_rate_accepts_drf_rates(monkeypatch, raw):
    monkeypatch.setenv("OKR_TEST_RATE", raw)

    assert env_rate("OKR_TEST_RATE", "1/day") == raw


@pytest.mark.parametrize("raw", ["abc", "0/min", "-1/min", "10/", "10/week", "ten/min", "/min", "60"])
def test_env_rate_refuses_malformed_rates(monkeypatch, raw):
    monkeypatch.setenv("OKR_TEST_RATE", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_rate("OKR_TEST_RATE", "60/min")

    assert f"OKR_TEST_RATE={raw!r}" in str(excinfo.value)
    assert "a rate like 60/min" in str(excinfo.value)


def test_env_database_reads_sqlite_urls(monkeypatch, tmp_path):
    monkeypatch.setenv("OKR_TEST_DB", f"sqlite:///{tmp_path}/okr.sqlite3")

    config = env_database("OKR_TEST_DB", "sqlite:///unused.sqlite3")

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == f"{tmp_path}/okr.sqlite3"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_env_database_reads_postgres_urls(monkeypatch, scheme):
    monkeypatch.setenv("OKR_TEST_DB", f"{scheme}://okr:s3cret@db.internal:6543/outcomes")

    config = env_database("OKR_TEST_DB", "sqlite:///unused.sqlite3")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("outcomes", "okr", "s3cret")
    assert (config["HOST"], int(config["PORT"])) == ("db.internal", 6543)


@pytest.mark.filterwarnings("ignore:Engine not recognized from url")
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("mysql://okr:pw@db.internal/outcomes", "only postgres:// and sqlite:/// URLs are supported"),
        ("notaurl", "only postgres:// and sqlite:/// URLs are supported"),
        ("postgres://okr:pw@db.internal:notaport/outcomes", "Port"),
        ("postgres://okr:pw@db.internal:99999/outcomes", "Port"),
        ("postgres://okr:pw@db.internal:5432/", "the URL names no database"),
    ],
)
def test_env_database_refuses_unsupported_or_broken_urls(monkeypatch, raw, reason):
    monkeypatch.setenv("OKR_TEST_DB", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_database("OKR_TEST_DB", "sqlite:///unused.sqlite3")

    message = str(excinfo.value)
    assert f"OKR_TEST_DB={raw!r}" in message
    assert "a database URL" in message
    assert reason in message


@pytest.mark.parametrize(
    "raw", ["redis://127.0.0.1:6379/0", "rediss://cache.internal:6380/1", "unix:///run/redis.sock"]
)
def test_env_redis_url_accepts_redis_urls(monkeypatch, raw):
    monkeypatch.setenv("OKR_TEST_REDIS", raw)

    assert env_redis_url("OKR_TEST_REDIS") == raw


@pytest.mark.parametrize("raw", ["http://127.0.0.1:6379/0", "127.0.0.1:6379", "memcached://cache:11211"])
def test_env_redis_url_refuses_other_schemes(monkeypatch, raw):
    monkeypatch.setenv("OKR_TEST_REDIS", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_redis_url("OKR_TEST_REDIS")

    assert f"OKR_TEST_REDIS={raw!r}" in str(excinfo.value)
    assert "redis://" in str(excinfo.value)


# --- start-up in a fresh process ----------------------------------------------------------------
def _clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in SETTINGS_VARIABLES}
    env["DATA_DIR"] = str(tmp_path)
    env.update(values)
    return env


def _production_secrets() -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "API_KEY_PEPPER": secrets.token_urlsafe(32),
    }


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=120, check=False
    )


def test_production_without_secret_key_refuses_to_start(tmp_path):
    env = _clean_env(tmp_path, DEBUG="false", API_KEY_PEPPER=secrets.token_urlsafe(32))

    result = _run(SETUP_ONLY, env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_without_api_key_pepper_refuses_to_start(tmp_path):
    env = _clean_env(tmp_path, DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64))

    result = _run(SETUP_ONLY, env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "API_KEY_PEPPER must be set when DEBUG is off" in result.stderr


def test_unparseable_debug_refuses_to_start(tmp_path):
    result = _run(SETUP_ONLY, _clean_env(tmp_path, DEBUG="maybe"))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG='maybe' is not valid" in result.stderr


def test_unparseable_page_size_refuses_to_start(tmp_path):
    result = _run(SETUP_ONLY, _clean_env(tmp_path, DEBUG="true", API_PAGE_SIZE="abc"))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "API_PAGE_SIZE='abc' is not valid" in result.stderr


def test_debug_starts_with_nothing_else_configured(tmp_path):
    code = (
        SETUP_ONLY + "; from django.conf import settings; import json; print(json.dumps({'debug': settings.DEBUG, "
        "'db': settings.DATABASES['default']['NAME'], 'cache': settings.CACHES['default']['BACKEND'], "
        "'broker': settings.CELERY_BROKER_URL}))"
    )

    result = _run(code, _clean_env(tmp_path, DEBUG="true"))

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {
        "debug": True,
        "db": str(tmp_path / "db.sqlite3"),
        "cache": "django.core.cache.backends.filebased.FileBasedCache",
        "broker": "filesystem://",
    }


def test_deploy_check_passes_with_production_settings(tmp_path):
    env = _clean_env(
        tmp_path, DJANGO_SETTINGS_MODULE="config.settings", ALLOWED_HOSTS="okr.example.com", **_production_secrets()
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# Reads the effective DRF settings and renders the API root for a browser-like Accept header.
RENDERING_PROBE = (
    SETUP_ONLY
    + """
import json
from django.test import Client
from rest_framework.settings import api_settings
response = Client().get("/api/v1/", HTTP_HOST="localhost", HTTP_ACCEPT="text/html,*/*;q=0.8", secure=True)
print(json.dumps({
    "renderers": [f"{c.__module__}.{c.__name__}" for c in api_settings.DEFAULT_RENDERER_CLASSES],
    "parsers": [f"{c.__module__}.{c.__name__}" for c in api_settings.DEFAULT_PARSER_CLASSES],
    "status": response.status_code,
    "content_type": response["Content-Type"],
}))
"""
)


def test_production_serves_and_parses_json_only(tmp_path):
    result = _run(RENDERING_PROBE, _clean_env(tmp_path, **_production_secrets()))

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["renderers"] == ["rest_framework.renderers.JSONRenderer"]
    assert probe["parsers"] == ["rest_framework.parsers.JSONParser"]
    # A browser asking for HTML still gets JSON.
    assert probe["status"] == 200
    assert probe["content_type"] == "application/json"


def test_debug_adds_the_browsable_api(tmp_path):
    result = _run(RENDERING_PROBE, _clean_env(tmp_path, DEBUG="true"))

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["renderers"] == [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ]
    assert probe["parsers"] == ["rest_framework.parsers.JSONParser"]
    assert probe["status"] == 200
    assert probe["content_type"].startswith("text/html")

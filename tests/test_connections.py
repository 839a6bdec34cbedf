"""Tracker connections: SSRF-safe base URLs, credentials encrypted at rest and never shown, key rotation,
status maps from tracker signals to our lifecycle, and who may manage connections."""

from __future__ import annotations

import base64
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.db import connection as db_connection

from config.env import env_fernet_keys
from integrations import secrets
from integrations.choices import CREDENTIAL_FIELDS, DEFAULT_BASE_URLS
from integrations.models import Connection
from integrations.netsafety import validate_public_url
from integrations.secrets import CredentialsUnreadable
from integrations.services import connection_credentials
from integrations.status_maps import DEFAULTS, SAMPLES, map_status, validate_map
from tests.assertions import assert_invalid
from tests.conftest import Cast

A = "/api/v1/companies/alpha/connections/"
B = "/api/v1/companies/bravo/connections/"
PREVIEW = f"{A}preview-status-map/"
EMAIL = "sync-bot@alpha.example"
TOKEN = "jira-secret-token-9f8e7d6c5b4a"
CAST_TOKEN = "alpha-jira-token-0123456789"


def jira_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Jira Cloud",
        "kind": "jira",
        "base_url": "https://alpha.atlassian.net",
        "credentials": {"email": EMAIL, "api_token": TOKEN},
        "scope": {"jql": "project = SHOP AND issuetype = Epic"},
    }
    body.update(overrides)
    return body


def snapshot() -> list[dict[str, Any]]:
    """Every connection row and how much history they have: what 'nothing changed' compares."""
    rows: list[dict[str, Any]] = [dict(row) for row in Connection.objects.order_by("pk").values()]
    return [*rows, {"history": Connection.history.count()}]


def raw_column(pk: int) -> str:
    table = Connection._meta.db_table
    with db_connection.cursor() as cursor:
        cursor.execute(f"SELECT credentials_encrypted FROM {table} WHERE id = %s", [pk])  # noqa: S608
        row = cursor.fetchone()
    assert row is not None
    return str(row[0])


# --- SSRF: which base URLs we may call --------------------------------------------------------------------------

HOSTILE_URLS = [
    ("http://alpha.atlassian.net", "https://"),
    ("https://127.0.0.1", "private"),
    ("https://[::1]", "private"),
    ("https://10.0.0.5", "private"),
    ("https://172.16.0.1", "private"),
    ("https://192.168.1.1", "private"),
    ("https://169.254.169.254", "private"),
    ("https://metadata.google.internal", "not a public address"),
    ("https://localhost", "not a public address"),
    ("https://LOCALHOST.", "not a public address"),
    ("https://api.localhost", "not a public address"),
    ("https://intranet.acme.example", "private"),  # resolves to 10.0.0.5
    ("https://rebind.acme.example", "private"),  # one public address and one loopback
    ("https://v6-local.acme.example", "private"),  # fd00::1
    ("https://user:pass@alpha.atlassian.net", "user name or password"),
    ("https://alpha.atlassian.net:8443", "443"),
    ("https://unknown-host.example", "does not resolve"),
    ("https://[::ffff:127.0.0.1]", "private"),
    ("https://0.0.0.0", "private"),
    ("https://100.64.0.1", "private"),  # carrier-grade NAT, shared address space
    ("file:///etc/passwd", "https://"),
    ("ftp://alpha.atlassian.net", "https://"),
]


@pytest.mark.parametrize(("url", "reason"), HOSTILE_URLS, ids=[url for url, _ in HOSTILE_URLS])
def test_validate_public_url_refuses_hostile_urls(url, reason):
    with pytest.raises(ValidationError) as error:
        validate_public_url(url)
    assert reason in " ".join(error.value.messages)


@pytest.mark.parametrize("url", [url for url, _ in HOSTILE_URLS])
def test_api_refuses_a_hostile_base_url_and_stores_nothing(url, cast: Cast, client_for):
    before = snapshot()
    response = client_for(cast.owner_a).post(A, jira_body(base_url=url), format="json")
    assert_invalid(response, "base_url")
    assert snapshot() == before


def test_changing_the_base_url_to_a_private_host_is_refused_and_keeps_the_old_one(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    response = client_for(cast.owner_a).patch(
        f"{A}{connection.pk}/", {"base_url": "https://intranet.acme.example"}, format="json"
    )
    assert_invalid(response, "base_url")
    connection.refresh_from_db()
    assert connection.base_url == "https://alpha.atlassian.net"


@pytest.mark.parametrize(
    "url",
    [
        "https://alpha.atlassian.net",
        "https://api.github.com",
        "https://v6.acme.example",
        "https://alpha.atlassian.net:443/rest",
        "https://ALPHA.atlassian.net.",
        "https://104.192.141.1",
    ],
)
def test_validate_public_url_accepts_public_https_hosts(url):
    assert validate_public_url(url) == url


def test_validate_public_url_strips_surrounding_whitespace():
    assert validate_public_url("  https://api.github.com \n") == "https://api.github.com"


def test_allow_private_urls_lifts_the_address_rules_only(settings):
    settings.TRACKER_ALLOW_PRIVATE_URLS = True
    assert validate_public_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert validate_public_url("https://intranet.acme.example") == "https://intranet.acme.example"
    for url in ("file:///etc/passwd", "ftp://alpha.atlassian.net"):
        with pytest.raises(ValidationError):
            validate_public_url(url)


def test_allow_private_urls_lets_the_api_store_a_local_fake_tracker(settings, cast: Cast, client_for):
    settings.TRACKER_ALLOW_PRIVATE_URLS = True
    response = client_for(cast.owner_a).post(A, jira_body(base_url="http://127.0.0.1:8080"), format="json")
    assert response.status_code == 201, response.content
    assert Connection.objects.get(pk=response.json()["id"]).base_url == "http://127.0.0.1:8080"


def test_an_out_of_range_port_is_a_validation_error_not_a_crash():
    with pytest.raises(ValidationError):
        validate_public_url("https://alpha.atlassian.net:99999")


def test_api_refuses_an_out_of_range_port_with_400(cast: Cast, client_for):
    response = client_for(cast.owner_a).post(A, jira_body(base_url="https://alpha.atlassian.net:99999"), format="json")
    assert_invalid(response, "base_url")


@pytest.mark.parametrize(
    "url",
    [
        "https://[::127.0.0.1]",  # IPv4-compatible loopback
        "https://[::ffff:0:7f00:1]",  # IPv4-translated loopback
        "https://[64:ff9b::a00:5]",  # NAT64 of 10.0.0.5: an IPv6-only network's gateway forwards it inside
    ],
)
def test_reserved_ipv6_addresses_embedding_private_ipv4_are_refused(url):
    with pytest.raises(ValidationError):
        validate_public_url(url)


# --- Credentials: encrypted at rest, never shown -----------------------------------------------------------------


def test_created_credentials_are_encrypted_at_rest(cast: Cast, client_for):
    response = client_for(cast.owner_a).post(A, jira_body(), format="json")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]

    stored = Connection.objects.filter(pk=pk).values_list("credentials_encrypted", flat=True).get()
    raw = raw_column(pk)
    assert stored == raw
    assert raw
    for plaintext in (TOKEN, EMAIL, TOKEN[-8:]):
        assert plaintext not in raw
    assert connection_credentials(Connection.objects.get(pk=pk)) == {"email": EMAIL, "api_token": TOKEN}


def test_credentials_are_encrypted_under_the_newest_key(settings, cast: Cast, client_for):
    response = client_for(cast.owner_a).post(A, jira_body(), format="json")
    raw = raw_column(response.json()["id"])
    newest = Fernet(settings.FIELD_ENCRYPTION_KEYS[0])
    assert TOKEN.encode() in newest.decrypt(raw.encode())


def test_api_never_returns_the_credentials(cast: Cast, client_for):
    client = client_for(cast.owner_a)
    created = client.post(A, jira_body(), format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    listed = client.get(A)
    detail = client.get(f"{A}{pk}/")
    patched = client.patch(f"{A}{pk}/", {"enabled": False}, format="json")
    for response in (created, listed, detail, patched):
        assert response.status_code in {200, 201}
        text = response.content.decode()
        assert TOKEN not in text
        assert EMAIL not in text
        assert CAST_TOKEN not in text
        assert "credentials_encrypted" not in text
    body = detail.json()
    assert "credentials" not in body
    assert body["credentials_configured"] is True
    assert body["credential_hint"] == "…" + TOKEN[-4:]
    assert body["credentials_updated"] is not None
    assert any(row["id"] == pk and row["credential_hint"] == "…5b4a" for row in listed.json()["results"])


def test_a_short_secret_gets_no_hint_characters(cast: Cast, client_for):
    body = {"name": "GitHub", "kind": "github", "credentials": {"token": "ghp_short1"}}
    response = client_for(cast.owner_a).post(A, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["credential_hint"] == "…"
    assert "ghp_short1" not in response.content.decode()


def test_history_never_holds_the_credentials(cast: Cast, client_for):
    client = client_for(cast.owner_a)
    pk = client.post(A, jira_body(), format="json").json()["id"]
    new_token = "jira-rotated-token-aaaabbbbcccc"
    response = client.patch(f"{A}{pk}/", {"credentials": {"email": EMAIL, "api_token": new_token}}, format="json")
    assert response.status_code == 200
    history_fields = {field.name for field in Connection.history.model._meta.get_fields()}
    assert "credentials_encrypted" not in history_fields
    rows = list(Connection.history.filter(id=pk).values())
    assert len(rows) == 2
    for row in rows:
        for value in row.values():
            assert TOKEN not in str(value)
            assert new_token not in str(value)
    assert {row["credential_hint"] for row in rows} == {"…5b4a", "…cccc"}


# --- Credentials per kind ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["jira", "github", "gitlab", "linear"])
def test_each_tracker_takes_exactly_its_own_credential_fields(kind, cast: Cast, client_for):
    credentials = {name: f"{kind}-{name}-value-0123456789" for name in CREDENTIAL_FIELDS[kind]}
    body: dict[str, Any] = {"name": f"My {kind}", "kind": kind, "credentials": credentials}
    if kind == "jira":
        body["base_url"] = "https://alpha.atlassian.net"
    response = client_for(cast.owner_a).post(A, body, format="json")
    assert response.status_code == 201, response.content
    connection = Connection.objects.get(pk=response.json()["id"])
    assert connection_credentials(connection) == credentials
    assert connection.base_url == DEFAULT_BASE_URLS.get(kind, "https://alpha.atlassian.net")
    assert connection.status_map == DEFAULTS[kind]


@pytest.mark.parametrize(
    ("credentials", "fields"),
    [
        ({"email": EMAIL}, {"credentials.api_token"}),
        ({"email": EMAIL, "api_token": "   "}, {"credentials.api_token"}),
        ({"email": EMAIL, "api_token": TOKEN, "password": "hunter2"}, {"credentials.password"}),
        ({"token": TOKEN}, {"credentials.email", "credentials.api_token", "credentials.token"}),
    ],
    ids=["missing", "blank", "extra", "another-trackers-fields"],
)
def test_wrong_credential_fields_are_refused_by_name(credentials, fields, cast: Cast, client_for):
    before = snapshot()
    response = client_for(cast.owner_a).post(A, jira_body(credentials=credentials), format="json")
    assert_invalid(response, *fields)
    assert snapshot() == before


def test_a_new_connection_needs_credentials(cast: Cast, client_for):
    body = jira_body()
    del body["credentials"]
    before = snapshot()
    response = client_for(cast.owner_a).post(A, body, format="json")
    assert_invalid(response, "credentials")
    assert snapshot() == before


def test_patch_without_credentials_keeps_them(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    before = connection_credentials(connection)
    response = client_for(cast.owner_a).patch(f"{A}{connection.pk}/", {"enabled": False}, format="json")
    assert response.status_code == 200, response.content
    connection.refresh_from_db()
    assert connection.enabled is False
    assert connection_credentials(connection) == before == {"email": "bot@alpha.example", "api_token": CAST_TOKEN}
    assert connection.credential_hint == "…6789"


def test_put_without_credentials_keeps_them(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    stored = connection.credentials_encrypted
    body = {"name": "Jira renamed", "kind": "jira", "base_url": "https://alpha.atlassian.net"}
    response = client_for(cast.owner_a).put(f"{A}{connection.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    connection.refresh_from_db()
    assert connection.name == "Jira renamed"
    assert connection.credentials_encrypted == stored


def test_patch_with_new_credentials_replaces_them(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    new = {"email": "new-bot@alpha.example", "api_token": "replacement-token-wxyz"}
    response = client_for(cast.owner_a).patch(f"{A}{connection.pk}/", {"credentials": new}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["credential_hint"] == "…wxyz"
    assert "replacement-token-wxyz" not in response.content.decode()
    connection.refresh_from_db()
    assert connection_credentials(connection) == new
    assert connection.credential_hint == "…wxyz"
    assert connection.credentials_updated is not None
    assert CAST_TOKEN not in str(connection_credentials(connection))


def test_new_credentials_replace_the_old_ones_whole(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    stored = connection.credentials_encrypted
    response = client_for(cast.owner_a).patch(
        f"{A}{connection.pk}/", {"credentials": {"api_token": "only-the-token-1234"}}, format="json"
    )
    assert_invalid(response, "credentials.email")
    connection.refresh_from_db()
    assert connection.credentials_encrypted == stored


def test_a_connection_keeps_its_tracker(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    before = snapshot()
    response = client_for(cast.owner_a).patch(
        f"{A}{connection.pk}/", {"kind": "github", "credentials": {"token": "ghp_0123456789abcdef"}}, format="json"
    )
    assert_invalid(response, "kind")
    assert snapshot() == before


def test_a_duplicate_name_in_the_company_is_refused_and_stored_once(cast: Cast, client_for):
    before = snapshot()
    response = client_for(cast.owner_a).post(A, jira_body(name="Alpha Jira"), format="json")
    assert response.status_code == 400, response.content
    assert snapshot() == before
    assert Connection.objects.filter(company=cast.company_a, name="Alpha Jira").count() == 1


def test_a_duplicate_name_is_reported_on_the_name_field(cast: Cast, client_for):
    response = client_for(cast.owner_a).post(A, jira_body(name="Alpha Jira"), format="json")
    assert_invalid(response, "name")


def test_the_same_name_is_free_in_another_company(cast: Cast, client_for):
    response = client_for(cast.owner_b).post(
        B, jira_body(name="Alpha Jira", base_url="https://bravo.atlassian.net"), format="json"
    )
    assert response.status_code == 201, response.content
    assert Connection.objects.filter(name="Alpha Jira").count() == 2


def test_owner_can_delete_a_connection(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    response = client_for(cast.owner_a).delete(f"{A}{connection.pk}/")
    assert response.status_code == 204
    assert not Connection.objects.filter(pk=connection.pk).exists()


# --- Key rotation ------------------------------------------------------------------------------------------------


def _reencrypt_all_under(settings, keys: list[str]) -> dict[int, dict[str, str]]:
    """Re-encrypt every stored credential under ``keys``; return the plaintexts by connection id."""
    plain = {c.pk: connection_credentials(c) for c in Connection.objects.exclude(credentials_encrypted="")}
    settings.FIELD_ENCRYPTION_KEYS = keys
    for pk, values in plain.items():
        Connection.objects.filter(pk=pk).update(credentials_encrypted=secrets.encrypt(values))
    return plain


def _readable_with(settings, keys: list[str]) -> dict[int, dict[str, str]]:
    settings.FIELD_ENCRYPTION_KEYS = keys
    return {c.pk: connection_credentials(c) for c in Connection.objects.exclude(credentials_encrypted="")}


def _rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_field_keys", *args, stdout=out)
    return out.getvalue()


def test_rotate_field_keys_reencrypts_every_row_under_the_newest_key(settings, cast: Cast):
    Connection.objects.create(
        company=cast.company_a, name="No credentials yet", kind="github", base_url="https://api.github.com"
    )
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    plain = _reencrypt_all_under(settings, [old])
    assert len(plain) == 2
    with pytest.raises(CredentialsUnreadable):
        _readable_with(settings, [new])

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    output = _rotate()

    assert "2 connection(s)" in output
    assert _readable_with(settings, [new]) == plain
    assert Connection.objects.get(name="No credentials yet").credentials_encrypted == ""


def test_rotate_field_keys_twice_is_harmless(settings, cast: Cast):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    plain = _reencrypt_all_under(settings, [old])
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    _rotate()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert "2 connection(s)" in _rotate()
    assert _readable_with(settings, [new]) == plain


def test_rotate_field_keys_resumes_after_an_id(settings, cast: Cast):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    plain = _reencrypt_all_under(settings, [old])
    first, second = sorted(plain)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]

    output = _rotate("--after-id", str(first))

    assert "1 connection(s)" in output
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert connection_credentials(Connection.objects.get(pk=second)) == plain[second]
    with pytest.raises(CredentialsUnreadable):
        connection_credentials(Connection.objects.get(pk=first))


def test_rotate_field_keys_goes_through_every_batch(settings, cast: Cast):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    plain = _reencrypt_all_under(settings, [old])
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert "2 connection(s)" in _rotate("--batch-size", "1")
    assert _readable_with(settings, [new]) == plain


def test_credentials_no_configured_key_can_read_are_unreadable(settings, cast: Cast):
    connection = cast.strategic_a["connection"]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CredentialsUnreadable):
        connection_credentials(connection)
    connection.credentials_encrypted = "not-a-fernet-token"
    with pytest.raises(CredentialsUnreadable):
        connection_credentials(connection)


def test_no_keys_configured_refuses_to_store_credentials(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        secrets.encrypt({"token": TOKEN})


# --- FIELD_ENCRYPTION_KEYS from the environment ------------------------------------------------------------------


def test_env_fernet_keys_reads_a_newest_first_list(monkeypatch):
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", f" {new} , {old} ")
    assert env_fernet_keys("FIELD_ENCRYPTION_KEYS", []) == [new, old]
    monkeypatch.delenv("FIELD_ENCRYPTION_KEYS")
    assert env_fernet_keys("FIELD_ENCRYPTION_KEYS", ["fallback"]) == ["fallback"]


@pytest.mark.parametrize(
    "raw",
    [
        "not-a-key",
        base64.urlsafe_b64encode(b"k" * 16).decode(),
        base64.urlsafe_b64encode(b"k" * 33).decode(),
        base64.urlsafe_b64encode(b"k" * 32).decode()[:-3],
        base64.urlsafe_b64encode(b"k" * 32).decode() + ",typo",
    ],
    ids=["text", "16-bytes", "33-bytes", "truncated", "second-key-bad"],
)
def test_malformed_field_encryption_keys_fail_settings_loading(raw, monkeypatch):
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", raw)
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        env_fernet_keys("FIELD_ENCRYPTION_KEYS", [])


def test_an_unpadded_key_fernet_cannot_use_fails_settings_loading(monkeypatch):
    unpadded = Fernet.generate_key().decode().rstrip("=")
    with pytest.raises(ValueError, match="Fernet key"):
        Fernet(unpadded)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", unpadded)
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        env_fernet_keys("FIELD_ENCRYPTION_KEYS", [])


# --- Status maps -------------------------------------------------------------------------------------------------

# TRACKERS.md section 0, row by row for the standard statuses each tracker reports (SAMPLES).
EXPECTED_FOR_SAMPLES = {
    "jira": ["planned", "in_progress", "done", "cancelled"],
    "github": ["planned", "in_progress", "in_progress", "done", "cancelled"],
    "gitlab": ["planned", "in_progress", "done", "cancelled"],
    "linear": ["planned", "planned", "in_progress", "in_progress", "done", "cancelled"],
}

# Further signals the TRACKERS.md table names.
TABLE_ROWS = [
    ("jira", {"category": "new", "status": "Backlog"}, "planned"),
    ("jira", {"category": "done", "resolution": "Duplicate"}, "cancelled"),
    ("jira", {"category": "done", "resolution": "Cannot Reproduce"}, "cancelled"),
    ("jira", {"category": "done"}, "done"),
    ("github", {"state": "closed", "state_reason": None}, "done"),
    ("github", {"state": "closed", "state_reason": "duplicate"}, "cancelled"),
    ("github", {"state": "open", "label": ["epic", "in progress"]}, "in_progress"),
    ("github", {"state": "open", "work": "not_started"}, "planned"),  # a milestone without closed issues
    ("github", {"state": "closed", "work": "started"}, "done"),
    ("gitlab", {"state": "closed", "label": ["workflow::cancelled"]}, "cancelled"),
    ("gitlab", {"state": "opened", "label": ["workflow::in review"]}, "in_progress"),
    ("linear", {"type": "triage"}, "planned"),
    ("linear", {"type": "unstarted"}, "planned"),
]


@pytest.mark.parametrize("kind", ["jira", "github", "gitlab", "linear"])
def test_default_map_sends_each_standard_status_to_the_table_lifecycle(kind):
    assert [map_status(DEFAULTS[kind], item)[0] for item in SAMPLES[kind]] == EXPECTED_FOR_SAMPLES[kind]


@pytest.mark.parametrize(("kind", "item", "expected"), TABLE_ROWS)
def test_default_map_follows_the_trackers_table(kind, item, expected):
    assert map_status(DEFAULTS[kind], item)[0] == expected


def test_linear_duplicate_issue_is_cancelled():
    assert map_status(DEFAULTS["linear"], {"type": "duplicate"}) == ("cancelled", 0)


def test_matching_is_case_insensitive_both_ways():
    rules = [{"match": {"status": "In Review", "label": ["Blocked"]}, "status": "in_progress"}]
    assert map_status(rules, {"status": "IN REVIEW", "label": ["x", "blocked"]}) == ("in_progress", 0)
    assert map_status(DEFAULTS["jira"], {"category": "DONE", "resolution": "won't do"}) == ("cancelled", 0)
    assert map_status(DEFAULTS["github"], {"state": "Open", "label": ["Status: In Progress"]}) == ("in_progress", 3)


@pytest.mark.parametrize(
    ("kind", "item"),
    [
        ("jira", {"category": "undefined", "status": "Limbo"}),
        ("jira", {}),
        ("github", {"state": "merged"}),
        ("linear", {"name": "In Progress"}),
    ],
)
def test_an_item_no_rule_matches_is_unknown(kind, item):
    assert map_status(DEFAULTS[kind], item) == (None, None)


def test_the_first_matching_rule_wins():
    done = {"match": {"category": "done"}, "status": "done"}
    cancelled = {"match": {"category": "done"}, "status": "cancelled"}
    item = {"category": "done", "resolution": "Done"}
    assert map_status([done, cancelled], item) == ("done", 0)
    assert map_status([cancelled, done], item) == ("cancelled", 0)


def test_a_rule_matches_only_when_every_signal_matches():
    rules = [
        {"match": {"state": "closed", "state_reason": "not_planned"}, "status": "cancelled"},
        {"match": {"state": "closed"}, "status": "done"},
    ]
    assert map_status(rules, {"state": "closed"}) == ("done", 1)
    assert map_status(rules, {"state": "closed", "state_reason": "not_planned"}) == ("cancelled", 0)


def test_validate_map_returns_a_clean_copy():
    rules = [{"match": {"category": ["done"]}, "status": "done"}]
    clean = validate_map("jira", rules)
    assert clean == rules
    assert clean is not rules
    assert all(rule["status"] for rule in validate_map("github", DEFAULTS["github"]))


GOOD_RULE = {"match": {"category": "done"}, "status": "done"}


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"match": {"category": "done"}, "status": "done"}, "status_map"),
        ("done", "status_map"),
        (None, "status_map"),
        ([], "status_map"),
        (["done"], "status_map.0"),
        ([GOOD_RULE, {"match": {"category": "done"}}], "status_map.1"),
        ([{**GOOD_RULE, "note": "x"}], "status_map.0"),
        ([{"match": ["category"], "status": "done"}], "status_map.0"),
        ([{"match": {"label": "epic"}, "status": "done"}], "status_map.0.match"),
        ([{"match": {}, "status": "done"}], "status_map.0.match"),
        ([{"match": {"category": "done"}, "status": "finished"}], "status_map.0.status"),
        ([GOOD_RULE, {"match": {"category": "done"}, "status": "Done"}], "status_map.1.status"),
        ([{"match": {"category": ""}, "status": "done"}], "status_map.0.match.category"),
        ([{"match": {"category": "  "}, "status": "done"}], "status_map.0.match.category"),
        ([{"match": {"category": []}, "status": "done"}], "status_map.0.match.category"),
        ([{"match": {"category": ["done", 3]}, "status": "done"}], "status_map.0.match.category"),
    ],
)
def test_validate_map_refuses_a_broken_map_naming_the_rule(rules, path):
    with pytest.raises(ValidationError) as error:
        validate_map("jira", rules)
    assert set(error.value.message_dict) == {path}


@pytest.mark.parametrize(("kind", "signal"), [("jira", "label"), ("github", "category"), ("linear", "state")])
def test_validate_map_allows_only_the_signals_of_the_kind(kind, signal):
    with pytest.raises(ValidationError) as error:
        validate_map(kind, [{"match": {signal: "x"}, "status": "done"}])
    assert set(error.value.message_dict) == {"status_map.0.match"}


def test_a_connection_with_a_broken_map_is_refused(cast: Cast, client_for):
    before = snapshot()
    bad = [{"match": {"label": "epic"}, "status": "done"}]
    response = client_for(cast.owner_a).post(A, jira_body(status_map=bad), format="json")
    assert_invalid(response, "status_map.0.match")
    assert snapshot() == before


def test_a_connection_stores_its_given_map(cast: Cast, client_for):
    rules = [{"match": {"status": "Shipped"}, "status": "done"}, {"match": {"category": "new"}, "status": "planned"}]
    response = client_for(cast.owner_a).post(A, jira_body(status_map=rules), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status_map"] == rules
    assert Connection.objects.get(pk=response.json()["id"]).status_map == rules


@pytest.mark.parametrize("kind", ["jira", "github", "gitlab", "linear"])
def test_preview_without_items_shows_the_default_table(kind, cast: Cast, client_for):
    before = snapshot()
    response = client_for(cast.owner_a).post(PREVIEW, {"kind": kind}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status_map"] == DEFAULTS[kind]
    assert [row["signals"] for row in body["rows"]] == SAMPLES[kind]
    assert [row["status"] for row in body["rows"]] == EXPECTED_FOR_SAMPLES[kind]
    for row in body["rows"]:
        assert DEFAULTS[kind][row["rule"]]["status"] == row["status"]
    assert snapshot() == before


def test_preview_maps_given_items_under_a_given_map(cast: Cast, client_for):
    rules = [
        {"match": {"state": "open", "label": "doing"}, "status": "in_progress"},
        {"match": {"state": "closed"}, "status": "done"},
    ]
    items = [
        {"state": "open", "label": ["Doing"]},
        {"state": "closed", "state_reason": "not_planned"},
        {"state": "open", "label": []},
    ]
    before = snapshot()
    response = client_for(cast.owner_a).post(
        PREVIEW, {"kind": "github", "status_map": rules, "items": items}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status_map": rules,
        "rows": [
            {"signals": items[0], "status": "in_progress", "rule": 0},
            {"signals": items[1], "status": "done", "rule": 1},
            {"signals": items[2], "status": None, "rule": None},
        ],
    }
    assert snapshot() == before


def test_preview_maps_given_items_under_the_default_map(cast: Cast, client_for):
    items = [{"type": "started"}, {"type": "archived"}]
    response = client_for(cast.owner_a).post(PREVIEW, {"kind": "linear", "items": items}, format="json")
    assert response.status_code == 200, response.content
    assert [(row["status"], row["rule"]) for row in response.json()["rows"]] == [("in_progress", 2), (None, None)]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"kind": "jira", "status_map": [{"match": {"label": "epic"}, "status": "done"}]}, "status_map.0.match"),
        ({"kind": "jira", "status_map": [{"match": {"category": "done"}, "status": "shipped"}]}, "status_map.0.status"),
        ({"kind": "jira", "status_map": []}, "status_map"),
        ({"kind": "asana"}, "kind"),
        ({}, "kind"),
    ],
)
def test_preview_refuses_a_bad_request_and_changes_nothing(body, path, cast: Cast, client_for):
    before = snapshot()
    response = client_for(cast.owner_a).post(PREVIEW, body, format="json")
    assert_invalid(response, path)
    assert snapshot() == before


# --- Who may manage connections ----------------------------------------------------------------------------------


def _routes(pk: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("get", A, None),
        ("post", A, jira_body()),
        ("get", f"{A}{pk}/", None),
        ("put", f"{A}{pk}/", {"name": "Taken over", "kind": "jira", "base_url": "https://alpha.atlassian.net"}),
        ("patch", f"{A}{pk}/", {"enabled": False}),
        ("delete", f"{A}{pk}/", None),
        ("post", PREVIEW, {"kind": "jira"}),
    ]


@pytest.mark.parametrize("caller", ["member", "executive", "viewer", "api_key"])
def test_only_owners_and_admins_reach_connections(caller, cast: Cast, client_for, key_client):
    client = key_client(cast.raw_key_a) if caller == "api_key" else client_for(cast.by_role_a[caller])
    connection = cast.strategic_a["connection"]
    before = snapshot()
    for method, url, body in _routes(connection.pk):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (method, url, response.content)
        assert response.json()["code"] == "permission_denied"
        assert CAST_TOKEN not in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_manage_connections(role, cast: Cast, client_for):
    client = client_for(cast.by_role_a[role])
    created = client.post(A, jira_body(), format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert client.patch(f"{A}{pk}/", {"enabled": False}, format="json").status_code == 200
    assert client.delete(f"{A}{pk}/").status_code == 204
    assert not Connection.objects.filter(pk=pk).exists()


def test_another_company_cannot_see_or_touch_a_connection(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    client = client_for(cast.owner_b)
    before = snapshot()
    responses = [
        client.get(f"{B}{connection.pk}/"),
        client.patch(f"{B}{connection.pk}/", {"enabled": False}, format="json"),
        client.delete(f"{B}{connection.pk}/"),
        client.get(f"{A}{connection.pk}/"),
        client.get(A),
    ]
    for response in responses:
        assert response.status_code == 404, response.content
        assert "Alpha" not in response.content.decode()
    listed = client.get(B)
    assert [row["name"] for row in listed.json()["results"]] == ["Bravo Jira"]
    assert snapshot() == before


def test_rotation_skips_and_reports_credentials_no_key_reads(cast, settings):
    from io import StringIO

    from django.core.management import call_command

    from integrations.models import Connection

    readable = cast.strategic_a["connection"]
    lost = Connection.objects.create(
        company=cast.company_a,
        name="Lost",
        kind="linear",
        base_url="https://api.linear.app",
        credentials_encrypted=Fernet(Fernet.generate_key()).encrypt(b"{}").decode(),
    )
    out, err = StringIO(), StringIO()

    call_command("rotate_field_keys", stdout=out, stderr=err)

    assert "Re-encrypted the credentials of" in out.getvalue()
    assert str(lost.pk) in err.getvalue()
    assert connection_credentials(Connection.objects.get(pk=readable.pk))["email"] == "bot@alpha.example"


def test_a_malformed_key_is_never_echoed(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config.env import env_fernet_keys

    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", "secret-looking-but-wrong")
    with pytest.raises(ImproperlyConfigured) as raised:
        env_fernet_keys("FIELD_ENCRYPTION_KEYS", [])
    assert "FIELD_ENCRYPTION_KEYS" in str(raised.value)
    assert "secret-looking-but-wrong" not in str(raised.value)


def test_a_connection_shows_its_health_and_lag(cast, client_for):
    from datetime import timedelta

    from django.utils import timezone

    connection = cast.strategic_a["connection"]
    url = f"/api/v1/companies/alpha/connections/{connection.pk}/"
    Connection.objects.filter(pk=connection.pk).update(last_success_at=None)
    assert client_for(cast.owner_a).get(url).json()["lag_seconds"] is None  # never synced

    synced = timezone.now() - timedelta(minutes=20)
    Connection.objects.filter(pk=connection.pk).update(last_success_at=synced, last_error="The tracker answered 503")
    body = client_for(cast.owner_a).get(url).json()

    assert 1199 <= body["lag_seconds"] <= 1210
    assert (body["last_error"], body["needs_attention"]) == ("The tracker answered 503", False)


def test_rotate_field_keys_also_rotates_webhook_secrets_and_slack_urls(settings, cast: Cast):
    from integrations.models import SlackWebhook, WebhookEndpoint

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    WebhookEndpoint.objects.update(secret_encrypted=secrets.encrypt({"secret": "whsec_kept"}))
    SlackWebhook.objects.update(url_encrypted=secrets.encrypt({"url": "https://hooks.slack.com/services/T/B/K"}))
    lost = WebhookEndpoint.objects.create(
        company=cast.company_a,
        url="https://hooks.alpha.example/lost",
        secret_encrypted=Fernet(Fernet.generate_key()).encrypt(b"{}").decode(),
    )
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out, err = StringIO(), StringIO()

    call_command("rotate_field_keys", stdout=out, stderr=err)

    assert "Re-encrypted 4 outbound webhook secret(s) and Slack webhook URL(s)." in out.getvalue()
    assert f"webhook endpoint {lost.pk}" in err.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]
    for endpoint in WebhookEndpoint.objects.exclude(pk=lost.pk):
        assert secrets.decrypt(endpoint.secret_encrypted) == {"secret": "whsec_kept"}
    for slack in SlackWebhook.objects.all():
        assert secrets.decrypt(slack.url_encrypted)["url"].startswith("https://hooks.slack.com/")

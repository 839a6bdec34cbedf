"""Authentication: API keys, sessions, CSRF, query-string credentials and who-am-I."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from outcomes import keys
from outcomes.choices import APIKeyScope, Role
from outcomes.models import APIKey, Company, Membership, Team
from outcomes.services.api_keys import api_key_authenticate, api_key_create
from tests.factories import MembershipFactory, UserFactory

A = "/api/v1/companies/alpha"
PASSWORD = "correct-horse-battery"
WWW_AUTHENTICATE = 'Bearer realm="api"'


def key_id_of(raw: str) -> str:
    parsed = keys.parse(raw)
    assert parsed is not None
    return parsed.key_id


def key_of(raw: str) -> APIKey:
    return APIKey.objects.get(key_id=key_id_of(raw))


def flip_last(raw: str) -> str:
    return raw[:-1] + ("A" if raw[-1] != "A" else "B")


def with_valid_checksum(random_part: str) -> str:
    return keys.PREFIX + random_part + keys.checksum(random_part)


def assert_401(response, detail_contains: str = "") -> dict:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE
    body = response.json()
    assert set(body) == {"status", "code", "detail"}
    assert body["status"] == 401
    assert body["code"] in {"authentication_failed", "not_authenticated"}
    assert detail_contains.lower() in body["detail"].lower()
    return body


def apikey_queries(context: CaptureQueriesContext) -> tuple[list[str], list[str]]:
    sqls = [query["sql"] for query in context.captured_queries]
    selects = [sql for sql in sqls if sql.startswith("SELECT") and 'FROM "outcomes_apikey"' in sql]
    updates = [sql for sql in sqls if sql.startswith('UPDATE "outcomes_apikey"')]
    return selects, updates


# =====================================================================================
# Valid keys, query counts and last use
# =====================================================================================
def test_valid_key_authenticates(cast, key_client):
    response = key_client(cast.raw_key_a).get(f"{A}/teams/")

    assert response.status_code == 200
    assert [team["name"] for team in response.json()["results"]] == ["Alpha Checkout"]


def test_key_lookup_is_one_query_and_last_use_is_written_at_most_once_a_minute(cast, django_assert_num_queries):
    start = timezone.now().replace(microsecond=0)
    api_key = key_of(cast.raw_key_a)
    assert api_key.last_used_at is None

    with time_machine.travel(start, tick=False):
        with django_assert_num_queries(2):  # the lookup, then the first last-use write
            check = api_key_authenticate(raw=cast.raw_key_a)
        assert check.api_key is not None
        assert check.api_key.pk == api_key.pk
        api_key.refresh_from_db()
        assert api_key.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        with django_assert_num_queries(1):  # the lookup only
            assert api_key_authenticate(raw=cast.raw_key_a).api_key is not None
        api_key.refresh_from_db()
        assert api_key.last_used_at == start

    later = start + timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        with django_assert_num_queries(2):
            assert api_key_authenticate(raw=cast.raw_key_a).api_key is not None
        api_key.refresh_from_db()
        assert api_key.last_used_at == later


def key_request_at(client, moment) -> tuple[int, int]:
    """GET company A's detail at ``moment``: how many key lookups and last-use writes it made."""
    with time_machine.travel(moment, tick=False), CaptureQueriesContext(connection) as context:
        assert client.get(f"{A}/").status_code == 200
    selects, updates = apikey_queries(context)
    return len(selects), len(updates)


def test_http_requests_with_a_key_write_last_use_at_most_once_a_minute(cast, key_client, django_assert_max_num_queries):
    client = key_client(cast.raw_key_a)
    api_key = key_of(cast.raw_key_a)
    start = timezone.now().replace(microsecond=0)

    with django_assert_max_num_queries(2):  # the whole request: one lookup, one last-use write
        assert key_request_at(client, start) == (1, 1)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start

    with django_assert_max_num_queries(1):
        assert key_request_at(client, start + timedelta(seconds=30)) == (1, 0)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start

    assert key_request_at(client, start + timedelta(minutes=2)) == (1, 1)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start + timedelta(minutes=2)


def test_last_use_is_shown_on_the_key(cast, key_client, client_for):
    key_client(cast.raw_key_a).get(f"{A}/")
    api_key = key_of(cast.raw_key_a)

    body = client_for(cast.owner_a).get(f"{A}/api-keys/{api_key.pk}/").json()

    assert body["last_used_at"] is not None
    assert api_key.last_used_at is not None
    assert body["last_used_at"].startswith(api_key.last_used_at.strftime("%Y-%m-%dT%H:%M:%S"))


# =====================================================================================
# Refused keys
# =====================================================================================
MALFORMED = {
    "empty": "",
    "no_random_part": "okr_",
    "too_short": "okr_abc123",
    "wrong_prefix": "okx_" + "a" * 36,
    "upper_prefix": "OKR_" + "a" * 36,
    "bad_character": "okr_" + "a" * 35 + "-",
    "too_long": "okr_" + "a" * 37,
    "not_a_key": "hunter2",
}


@pytest.mark.django_db
@pytest.mark.parametrize("raw", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_key_is_refused_without_touching_the_database(raw, django_assert_num_queries):
    with django_assert_num_queries(0):
        check = api_key_authenticate(raw=raw)

    assert check.api_key is None
    assert check.problem == "Malformed API key."


def test_key_with_wrong_checksum_is_refused_without_touching_the_database(cast, django_assert_num_queries):
    mistyped = flip_last(cast.raw_key_a)
    assert keys.KEY_PATTERN.match(mistyped)

    with django_assert_num_queries(0):
        check = api_key_authenticate(raw=mistyped)

    assert check.api_key is None
    assert check.problem == "Malformed API key."
    assert key_of(cast.raw_key_a).last_used_at is None


@pytest.mark.parametrize("kind", ["malformed", "wrong_checksum"])
def test_bad_key_over_http_is_401_in_the_error_shape(cast, key_client, django_assert_num_queries, kind):
    raw = "okr_nonsense" if kind == "malformed" else flip_last(cast.raw_key_a)

    with django_assert_num_queries(0):
        response = key_client(raw).get(f"{A}/teams/")

    body = assert_401(response, "malformed")
    assert body["code"] == "authentication_failed"
    assert "Alpha" not in response.content.decode()


def test_empty_bearer_is_refused(cast):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ")

    assert_401(client.get(f"{A}/"))


def test_unknown_well_formed_key_is_refused(cast, key_client):
    response = key_client(keys.generate().raw).get(f"{A}/")

    assert_401(response, "unknown")


def test_key_with_known_id_but_wrong_secret_is_refused(cast, key_client):
    random_part = cast.raw_key_a[len(keys.PREFIX) : len(keys.PREFIX) + keys.RANDOM_LENGTH]
    forged_part = random_part[: keys.KEY_ID_LENGTH] + ("x" if random_part[-1] != "x" else "y") * 20
    forged = with_valid_checksum(forged_part)
    assert key_id_of(forged) == key_id_of(cast.raw_key_a)

    response = key_client(forged).get(f"{A}/")

    assert_401(response, "unknown")
    assert key_of(cast.raw_key_a).last_used_at is None


def test_revoked_key_is_refused(cast, key_client):
    APIKey.objects.filter(key_id=key_id_of(cast.raw_key_a)).update(revoked_at=timezone.now())

    response = key_client(cast.raw_key_a).get(f"{A}/")

    assert_401(response, "revoked")


def test_expired_key_is_refused(cast, key_client):
    api_key = key_of(cast.raw_key_a)
    APIKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = key_client(cast.raw_key_a).get(f"{A}/")

    assert_401(response, "expired")
    api_key.refresh_from_db()
    assert api_key.last_used_at is None


def test_key_stops_working_when_it_expires(cast, key_client):
    client = key_client(cast.raw_key_a)
    expires_at = key_of(cast.raw_key_a).expires_at
    assert expires_at is not None

    with time_machine.travel(expires_at - timedelta(minutes=1), tick=False):
        assert client.get(f"{A}/").status_code == 200
    with time_machine.travel(expires_at + timedelta(seconds=1), tick=False):
        assert_401(client.get(f"{A}/"), "expired")


def test_key_made_with_another_pepper_is_refused(cast, key_client, settings):
    settings.API_KEY_PEPPER = "a-different-pepper-after-rotation-0123456789"

    assert_401(key_client(cast.raw_key_a).get(f"{A}/"), "unknown")


# =====================================================================================
# Keys and companies
# =====================================================================================
def company_a_reads(cast) -> list[str]:
    membership = Membership.objects.get(user=cast.member_a, company=cast.company_a)
    return [
        f"{A}/",
        f"{A}/members/",
        f"{A}/members/{membership.pk}/",
        f"{A}/teams/",
        f"{A}/teams/{cast.team_a.pk}/",
    ]


def test_key_of_company_b_cannot_see_company_a(cast, key_client):
    client = key_client(cast.raw_key_b)

    for url in company_a_reads(cast):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
        text = response.content.decode()
        for marker in cast.markers_of_a():
            assert marker not in text

    assert client.get("/api/v1/companies/bravo/teams/").status_code == 200


def test_key_of_company_b_cannot_write_to_company_a(cast, key_client):
    client = key_client(cast.raw_key_b)

    created = client.post(f"{A}/teams/", {"name": "Bravo Was Here"})
    patched = client.patch(f"{A}/teams/{cast.team_a.pk}/", {"name": "Bravo Was Here"})
    deleted = client.delete(f"{A}/teams/{cast.team_a.pk}/")

    assert [r.status_code for r in (created, patched, deleted)] == [404, 404, 404]
    assert not Team.objects.filter(name="Bravo Was Here").exists()
    cast.team_a.refresh_from_db()
    assert cast.team_a.name == "Alpha Checkout"


def read_key(cast) -> str:
    return api_key_create(company=cast.company_a, name="Reader", scope=APIKeyScope.READ, created_by=cast.owner_a).raw


def test_read_key_can_read(cast, key_client):
    client = key_client(read_key(cast))

    for url in company_a_reads(cast):
        assert client.get(url).status_code == 200, url
    assert client.get(f"{A}/teams/{cast.team_a.pk}/").json()["name"] == "Alpha Checkout"


def test_read_key_cannot_write(cast, key_client):
    client = key_client(read_key(cast))
    membership = Membership.objects.get(user=cast.viewer_a, company=cast.company_a)

    responses = [
        client.post(f"{A}/teams/", {"name": "Reader Team"}),
        client.patch(f"{A}/teams/{cast.team_a.pk}/", {"name": "Reader Rename"}),
        client.delete(f"{A}/teams/{cast.team_a.pk}/"),
        client.patch(f"{A}/", {"name": "Reader Company"}),
        client.patch(f"{A}/members/{membership.pk}/", {"role": "admin"}),
        client.delete(f"{A}/members/{membership.pk}/"),
    ]

    for response in responses:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    cast.team_a.refresh_from_db()
    cast.company_a.refresh_from_db()
    assert cast.team_a.name == "Alpha Checkout"
    assert cast.company_a.name == "Alpha Analytics"
    assert not Team.objects.filter(name="Reader Team").exists()
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


def test_write_key_acts_as_a_member_and_cannot_manage_teams(cast, key_client):
    # outcomes/api/roles.py: ("POST", "v1:team-list") and ("PATCH", "v1:team-detail") are MANAGERS
    # (owner, admin) only, and a write-scope key acts as a "member" (outcomes/selectors.py), so it gets 403.
    client = key_client(cast.raw_key_a)

    listed = client.get(f"{A}/teams/")
    created = client.post(f"{A}/teams/", {"name": "Robot Team"})
    patched = client.patch(f"{A}/teams/{cast.team_a.pk}/", {"name": "Robot Rename"})

    assert listed.status_code == 200
    assert created.status_code == 403
    assert created.json()["code"] == "permission_denied"
    assert patched.status_code == 403
    assert not Team.objects.filter(name="Robot Team").exists()
    cast.team_a.refresh_from_db()
    assert cast.team_a.name == "Alpha Checkout"


# =====================================================================================
# Credentials in the query string
# =====================================================================================
@pytest.mark.parametrize("name", ["api_key", "token", "access_token", "apikey", "key", "auth", "API_KEY", "Token"])
def test_credential_parameters_in_the_query_string_are_refused(cast, key_client, name):
    # A valid Authorization header does not make the leaked credential acceptable.
    response = key_client(cast.raw_key_a).get(f"{A}/teams/", {name: cast.raw_key_a})

    body = assert_401(response, "query string")
    assert body["code"] == "authentication_failed"
    assert "Alpha Checkout" not in response.content.decode()


def test_key_looking_value_under_any_name_is_refused(cast, key_client):
    other = api_key_create(company=cast.company_a, name="Other", scope=APIKeyScope.READ, created_by=None).raw

    for params in ({"q": other}, {"ordering": other}, {"whatever": keys.generate().raw}):
        assert_401(key_client(cast.raw_key_a).get(f"{A}/teams/", params), "query string")


def test_key_in_query_string_does_not_authenticate_without_header(cast):
    response = APIClient().get(f"{A}/teams/", {"api_key": cast.raw_key_a})

    assert_401(response, "query string")
    assert key_of(cast.raw_key_a).last_used_at is None


def test_credential_in_query_string_is_refused_for_session_users_too(cast, client_for):
    response = client_for(cast.owner_a).get(f"{A}/teams/", {"token": "anything"})

    assert_401(response, "query string")


# =====================================================================================
# Anonymous callers, outsiders, sessions and CSRF
# =====================================================================================
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/me/"),
        ("get", "/api/v1/companies/"),
        ("post", "/api/v1/companies/"),
        ("get", f"{A}/"),
        ("get", f"{A}/teams/"),
        ("post", f"{A}/teams/"),
        ("get", f"{A}/api-keys/"),
        ("get", "/api/v1/companies/no-such-company/teams/"),
    ],
)
def test_anonymous_callers_get_401(cast, method, url):
    response = getattr(APIClient(), method)(url, {"name": "Anonymous Co"} if method == "post" else None)

    body = assert_401(response)
    assert body["code"] == "not_authenticated"
    assert not Company.objects.filter(name="Anonymous Co").exists()
    assert not Team.objects.filter(name="Anonymous Co").exists()


def company_a_routes(cast) -> list[tuple[str, str, dict | None]]:
    membership = Membership.objects.get(user=cast.member_a, company=cast.company_a)
    api_key = key_of(cast.raw_key_a)
    team = f"{A}/teams/{cast.team_a.pk}"
    return [
        ("get", f"{A}/", None),
        ("patch", f"{A}/", {"name": "Stolen"}),
        ("get", f"{A}/members/", None),
        ("post", f"{A}/members/", {"email": cast.member_b.email}),
        ("get", f"{A}/members/{membership.pk}/", None),
        ("patch", f"{A}/members/{membership.pk}/", {"role": "viewer"}),
        ("delete", f"{A}/members/{membership.pk}/", None),
        ("get", f"{A}/teams/", None),
        ("post", f"{A}/teams/", {"name": "Stolen"}),
        ("get", f"{team}/", None),
        ("put", f"{team}/", {"name": "Stolen"}),
        ("patch", f"{team}/", {"name": "Stolen"}),
        ("post", f"{team}/members/", {"user": cast.member_b.pk}),
        ("delete", f"{team}/members/{cast.member_a.pk}/", None),
        ("delete", f"{team}/", None),
        ("get", f"{A}/api-keys/", None),
        ("post", f"{A}/api-keys/", {"name": "Stolen"}),
        ("get", f"{A}/api-keys/{api_key.pk}/", None),
        ("post", f"{A}/api-keys/{api_key.pk}/revoke/", None),
    ]


def test_person_outside_company_a_gets_404_on_every_company_a_route(cast, client_for):
    client = client_for(cast.owner_b)
    not_found = client.get("/api/v1/companies/no-such-company/").json()

    for method, url, payload in company_a_routes(cast):
        response = getattr(client, method)(url, payload)
        assert response.status_code == 404, f"{method.upper()} {url}"
        assert response.json() == not_found, f"{method.upper()} {url}"

    cast.company_a.refresh_from_db()
    cast.team_a.refresh_from_db()
    assert cast.company_a.name == "Alpha Analytics"
    assert cast.team_a.name == "Alpha Checkout"
    assert list(cast.team_a.members.all()) == [cast.member_a]
    assert Membership.objects.get(user=cast.member_a, company=cast.company_a).role == Role.MEMBER
    assert not Membership.objects.filter(user=cast.member_b, company=cast.company_a).exists()
    assert not Team.objects.filter(name="Stolen").exists()
    assert not APIKey.objects.filter(name="Stolen").exists()
    assert key_of(cast.raw_key_a).revoked_at is None


def test_session_post_without_csrf_token_is_refused(cast):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(email=cast.owner_a.email, password=PASSWORD)

    read = client.get(f"{A}/")
    created = client.post("/api/v1/companies/", {"name": "Forged Co"})
    patched = client.patch(f"{A}/", {"name": "Forged Name"})

    assert read.status_code == 200
    for response in (created, patched):
        assert response.status_code == 403
        body = response.json()
        assert body["status"] == 403
        assert body["code"] == "permission_denied"
        assert "CSRF" in body["detail"]
    assert not Company.objects.filter(name="Forged Co").exists()
    cast.company_a.refresh_from_db()
    assert cast.company_a.name == "Alpha Analytics"


def test_session_post_with_csrf_token_is_accepted(cast):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(email=cast.owner_a.email, password=PASSWORD)
    token = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
    client.cookies["csrftoken"] = token

    response = client.post("/api/v1/companies/", {"name": "Honest Co"}, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 201
    assert Company.objects.filter(name="Honest Co").exists()


def test_api_key_requests_need_no_csrf_token(cast):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {cast.raw_key_a}")

    # The key's role (member) is refused by the role table, not by a CSRF check.
    response = client.post(f"{A}/teams/", {"name": "Robot"})

    assert response.status_code == 403
    assert "CSRF" not in response.json()["detail"]


# =====================================================================================
# Who am I
# =====================================================================================
def test_me_for_a_person_lists_memberships_with_roles(cast, client_for):
    MembershipFactory(user=cast.member_a, company=cast.company_b, role=Role.VIEWER)

    response = client_for(cast.member_a).get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": cast.member_a.pk, "email": "member.alpha@example.test", "full_name": "Alpha Member"}
    assert body["api_key"] is None
    assert [(m["company"]["slug"], m["role"]) for m in body["memberships"]] == [
        ("alpha", "member"),
        ("bravo", "viewer"),
    ]
    assert body["memberships"][0]["company"]["name"] == "Alpha Analytics"


def test_me_for_a_person_without_companies(db, client_for):
    person = UserFactory(email="loner@example.test")

    body = client_for(person).get("/api/v1/me/").json()

    assert body["user"]["email"] == "loner@example.test"
    assert body["memberships"] == []


@pytest.mark.parametrize(("scope", "role"), [(APIKeyScope.WRITE, "member"), (APIKeyScope.READ, "viewer")])
def test_me_for_an_api_key(cast, key_client, scope, role):
    issued = api_key_create(company=cast.company_a, name="Probe", scope=scope, created_by=cast.owner_a)

    response = key_client(issued.raw).get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["user"] is None
    assert body["api_key"]["id"] == issued.api_key.pk
    assert body["api_key"]["name"] == "Probe"
    assert body["api_key"]["scope"] == scope
    assert body["api_key"]["prefix"] == keys.PREFIX + issued.api_key.key_id
    assert len(body["memberships"]) == 1
    assert body["memberships"][0]["company"]["slug"] == "alpha"
    assert body["memberships"][0]["role"] == role
    assert issued.raw not in response.content.decode()
    assert "bravo" not in response.content.decode()


def test_me_refuses_query_parameters(cast, client_for):
    response = client_for(cast.owner_a).get("/api/v1/me/", {"expand": "all"})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["expand"]


# =====================================================================================
# The key format
# =====================================================================================
def test_generated_keys_have_the_documented_format_and_parse():
    generated = [keys.generate() for _ in range(20)]

    for key in generated:
        assert keys.KEY_PATTERN.match(key.raw)
        assert len(key.raw) == 40
        parsed = keys.parse(key.raw)
        assert parsed is not None
        assert parsed.raw == key.raw
        assert parsed.key_id == key.key_id == key.raw[4:14]
        assert keys.looks_like_key(key.raw)
    assert len({key.raw for key in generated}) == 20


def test_checksum_rejects_any_one_character_change_in_the_random_part():
    raw = keys.generate().raw
    random_part = raw[len(keys.PREFIX) : len(keys.PREFIX) + keys.RANDOM_LENGTH]

    for position in range(keys.RANDOM_LENGTH):
        for replacement in ("0", "z"):
            if random_part[position] == replacement:
                continue
            changed = raw[: 4 + position] + replacement + raw[5 + position :]
            assert len(changed) == len(raw)
            assert keys.parse(changed) is None, (position, replacement)


def test_checksum_rejects_any_one_character_change_in_the_checksum():
    raw = keys.generate().raw

    for position in range(len(raw) - keys.CHECKSUM_LENGTH, len(raw)):
        replacement = "0" if raw[position] != "0" else "1"
        assert keys.parse(raw[:position] + replacement + raw[position + 1 :]) is None


def test_checksum_is_deterministic():
    assert keys.checksum("a" * 30) == keys.checksum("a" * 30)
    assert keys.checksum("a" * 30) != keys.checksum("a" * 29 + "b")
    assert keys.parse(with_valid_checksum("Z" * 30)) is not None


def test_digest_is_not_the_key_and_depends_on_the_pepper(settings):
    raw = keys.generate().raw
    settings.API_KEY_PEPPER = "pepper-one-0123456789abcdef0123456789"
    first = keys.digest(raw)
    again = keys.digest(raw)
    settings.API_KEY_PEPPER = "pepper-two-0123456789abcdef0123456789"
    second = keys.digest(raw)

    assert first == again
    assert first != raw
    assert raw not in first
    assert len(first) == 64
    int(first, 16)
    assert first != second
    assert keys.digest(keys.generate().raw) != second


def test_search_text_that_merely_starts_like_a_key_is_not_refused(cast, client_for):
    # Only values with the exact shape of a key count as credentials in the query string.
    response = client_for(cast.owner_a).get("/api/v1/companies/alpha/teams/", {"q": "okr_planning_2024"})

    assert response.status_code == 200
    assert response.json()["count"] == 0

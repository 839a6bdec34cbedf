"""Every API error has one JSON shape: {"status", "code", "detail"} (+ "fields" for validation errors)."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.test import Client, RequestFactory
from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.test import APIClient

from config.api.errors import JsonApiErrorMiddleware, exception_handler, flatten_field_errors
from outcomes.models import Company, Team
from tests.assertions import assert_invalid

SHAPE = {"status", "code", "detail"}


def assert_error(response, status: int, code: str, detail: str | None = None) -> dict:
    """The response is the JSON error shape with this status and code; returns the body."""
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == SHAPE | ({"fields"} if "fields" in body else set())
    assert body["status"] == status
    assert body["code"] == code
    if detail is not None:
        assert body["detail"] == detail
    else:
        assert isinstance(body["detail"], str)
        assert body["detail"]
    return body


# --- through the whole stack --------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/api/v1/nope/", "/api/v1/companies/alpha/nope/", "/api/nothing-here/"])
def test_unknown_url_under_api_is_a_json_404(db, url):
    response = Client().get(url)

    assert_error(response, 404, "not_found", "Not found.")


def test_unknown_url_under_api_is_a_json_404_in_debug_too(db, settings):
    settings.DEBUG = True

    response = Client().get("/api/v1/nope/")

    body = assert_error(response, 404, "not_found", "Not found.")
    assert "urlpatterns" not in json.dumps(body)  # no technical 404 page leaks into the body


def test_object_of_another_company_is_a_json_404(cast, client_for):
    response = client_for(cast.owner_a).get(f"/api/v1/companies/alpha/teams/{cast.team_b.pk}/")

    assert_error(response, 404, "not_found")


def test_wrong_method_on_a_drf_view_is_a_json_405_with_allow(db):
    response = Client().post("/api/schema/", HTTP_ACCEPT="application/json")

    assert_error(response, 405, "method_not_allowed", 'Method "POST" not allowed.')
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_wrong_method_on_a_company_route_is_a_405_not_a_403(cast, client_for):
    response = client_for(cast.owner_a).delete("/api/v1/companies/alpha/")

    assert_error(response, 405, "method_not_allowed", 'Method "DELETE" not allowed.')
    assert response["Allow"] == "GET, PATCH, HEAD, OPTIONS"
    assert Company.objects.filter(slug="alpha").exists()


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/", "/api/schema/"])
def test_wrong_method_on_the_documentation_routes_is_json(db, url):
    response = Client().post(url)

    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_validation_error_lists_fields(cast, client_for):
    response = client_for(cast.owner_a).post(
        "/api/v1/companies/alpha/teams/", {"name": "", "members": [cast.member_b.pk]}, format="json"
    )

    body = assert_error(response, 400, "invalid", "Invalid input.")
    assert set(body["fields"]) == {"name", "members"}
    assert body["fields"]["name"] == ["This field may not be blank."]
    assert all(isinstance(message, str) for message in body["fields"]["members"])
    assert not Team.objects.filter(name="").exists()


def test_unknown_query_parameter_is_a_validation_error(cast, client_for):
    response = client_for(cast.owner_a).get("/api/v1/companies/alpha/teams/?colour=red")

    body = assert_error(response, 400, "invalid", "Invalid input.")
    assert body["fields"] == {"colour": ["Unknown query parameter."]}


def test_body_larger_than_the_upload_limit_is_a_json_400(cast, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client = APIClient(raise_request_exception=False)
    client.force_login(cast.owner_a)

    response = client.post("/api/v1/companies/", {"name": "x" * 4096}, format="json")

    assert_error(response, 400, "bad_request", "Bad request.")
    assert not Company.objects.filter(name="x" * 4096).exists()


def test_malformed_json_is_a_json_400(cast, client_for):
    response = client_for(cast.owner_a).post(
        "/api/v1/companies/", data='{"name": "Broken', content_type="application/json"
    )

    body = assert_error(response, 400, "parse_error")
    assert body["detail"].startswith("JSON parse error")
    assert Company.objects.count() == 2


def test_form_encoded_body_is_a_json_415(cast, client_for):
    response = client_for(cast.owner_a).post(
        "/api/v1/companies/", data="name=Form", content_type="application/x-www-form-urlencoded"
    )

    assert_error(response, 415, "unsupported_media_type")
    assert not Company.objects.filter(name="Form").exists()


def test_not_signed_in_is_a_json_401_with_the_auth_scheme(db):
    response = Client().get("/api/v1/me/")

    assert_error(response, 401, "not_authenticated", "Authentication credentials were not provided.")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_role_refusal_is_a_json_403(cast, client_for):
    response = client_for(cast.viewer_a).patch(f"/api/v1/companies/alpha/teams/{cast.team_a.pk}/", {"name": "Nope"})

    assert_error(response, 403, "permission_denied", "Your role does not allow this.")
    cast.team_a.refresh_from_db()
    assert cast.team_a.name == "Alpha Checkout"


@pytest.mark.parametrize("debug", [False, True])
def test_crash_inside_a_view_is_a_json_500(cast, settings, monkeypatch, debug):
    settings.DEBUG = debug

    def explode(**kwargs):
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr("outcomes.api.views.tenancy.companies_visible_to", explode)
    client = APIClient(raise_request_exception=False)
    client.force_login(cast.owner_a)

    response = client.get("/api/v1/companies/", HTTP_ACCEPT="text/html,application/json")

    body = assert_error(response, 500, "internal_server_error", "Internal server error.")
    assert "secret-internal-detail" not in response.content.decode()
    assert "RuntimeError" not in json.dumps(body)


def test_disallowed_host_under_api_is_a_json_400(db):
    response = Client().get("/api/v1/health/", HTTP_HOST="evil.example")

    assert_error(response, 400, "bad_request", "Bad request.")
    assert "evil.example" not in response.content.decode()


def test_non_api_paths_keep_djangos_own_responses(db):
    client = Client()

    not_found = client.get("/does-not-exist/")
    bad_host = client.get("/admin/", HTTP_HOST="evil.example")

    assert not_found.status_code == 404
    assert not_found["Content-Type"].startswith("text/html")
    assert b'"code"' not in not_found.content
    assert bad_host.status_code == 400
    assert bad_host["Content-Type"].startswith("text/html")


# --- the middleware on its own ----------------------------------------------------------------
def test_middleware_keeps_the_allow_header_of_a_plain_405():
    request = RequestFactory().delete("/api/v1/somewhere/")
    middleware = JsonApiErrorMiddleware(lambda request: HttpResponseNotAllowed(["GET", "POST"]))

    response = middleware(request)

    assert_error(response, 405, "method_not_allowed", "Method not allowed.")
    assert response["Allow"] == "GET, POST"


def test_middleware_keeps_retry_after_and_drops_other_headers():
    def get_response(request):
        response = HttpResponse("<h1>Busy</h1>", status=503, content_type="text/html")
        response["Retry-After"] = "30"
        response["X-Internal"] = "do-not-pass-on"
        return response

    response = JsonApiErrorMiddleware(get_response)(RequestFactory().get("/api/v1/somewhere/"))

    assert_error(response, 503, "service_unavailable", "Service unavailable.")
    assert response["Retry-After"] == "30"
    assert "X-Internal" not in response


@pytest.mark.parametrize(
    ("path", "status", "content_type"),
    [
        ("/api/v1/somewhere/", 200, "text/html"),  # not an error
        ("/api/v1/somewhere/", 404, "application/json"),  # already JSON
        ("/admin/somewhere/", 404, "text/html"),  # not under /api/
    ],
)
def test_middleware_leaves_other_responses_alone(path, status, content_type):
    original = HttpResponse("<p>original</p>", status=status, content_type=content_type)

    response = JsonApiErrorMiddleware(lambda request: original)(RequestFactory().get(path))

    assert response is original


# --- the DRF exception handler -------------------------------------------------------------------
# drf_exception_handler ignores its context (only set_rollback() runs, which needs no request), so a
# minimal context is enough to call it directly.
CONTEXT = {"view": None, "request": None}


def test_django_validation_error_from_a_service_becomes_400_with_fields():
    exc = DjangoValidationError({"name": ["The company already has a team with this name."], "monthly_cost": "Bad."})

    response = exception_handler(exc, CONTEXT)

    assert response is not None
    assert response.status_code == 400
    assert response.data == {
        "status": 400,
        "code": "invalid",
        "detail": "Invalid input.",
        "fields": {"name": ["The company already has a team with this name."], "monthly_cost": ["Bad."]},
    }


def test_django_validation_error_without_fields_becomes_non_field_errors():
    response = exception_handler(DjangoValidationError("Give either a user or an e-mail address."), CONTEXT)

    assert response is not None
    assert response.status_code == 400
    assert response.data["fields"] == {"non_field_errors": ["Give either a user or an e-mail address."]}


def test_integrity_error_from_a_service_becomes_409_without_leaking_sql():
    exc = IntegrityError("UNIQUE constraint failed: outcomes_team.company_id, lower(name)")

    response = exception_handler(exc, CONTEXT)

    assert response is not None
    assert response.status_code == 409
    assert response.data == {
        "status": 409,
        "code": "conflict",
        "detail": "The request conflicts with the current state of the data.",
    }


def test_django_permission_denied_keeps_its_message():
    response = exception_handler(DjangoPermissionDenied("Only owners can grant the owner role."), CONTEXT)

    assert response is not None
    assert response.status_code == 403
    assert response.data == {
        "status": 403,
        "code": "permission_denied",
        "detail": "Only owners can grant the owner role.",
    }


def test_http404_becomes_not_found_without_its_message():
    response = exception_handler(Http404("No Team matches the given query."), CONTEXT)

    assert response is not None
    assert response.status_code == 404
    assert response.data == {"status": 404, "code": "not_found", "detail": "Not found."}


def test_throttled_keeps_retry_after():
    response = exception_handler(exceptions.Throttled(wait=12), CONTEXT)

    assert response is not None
    assert response.status_code == 429
    assert response["Retry-After"] == "12"
    assert response.data["code"] == "throttled"
    assert set(response.data) == SHAPE


def test_custom_error_code_is_kept():
    response = exception_handler(exceptions.PermissionDenied("Keys cannot do this.", code="key_forbidden"), CONTEXT)

    assert response is not None
    assert response.data == {"status": 403, "code": "key_forbidden", "detail": "Keys cannot do this."}


def test_unexpected_exceptions_are_left_to_django():
    assert exception_handler(RuntimeError("boom"), CONTEXT) is None


def test_service_errors_reach_the_client_through_a_view(cast, client_for, monkeypatch):
    def refuse(**kwargs):
        raise DjangoValidationError({"lead": "Only members of the company can be on or lead its teams."})

    monkeypatch.setattr("outcomes.api.views.tenancy.team_create", refuse)

    response = client_for(cast.owner_a).post("/api/v1/companies/alpha/teams/", {"name": "Gamma"}, format="json")

    body = assert_error(response, 400, "invalid", "Invalid input.")
    assert body["fields"] == {"lead": ["Only members of the company can be on or lead its teams."]}


def test_integrity_error_reaches_the_client_as_409_through_a_view(cast, client_for, monkeypatch):
    def race(**kwargs):
        raise IntegrityError("UNIQUE constraint failed")

    monkeypatch.setattr("outcomes.api.views.tenancy.team_create", race)

    response = client_for(cast.owner_a).post("/api/v1/companies/alpha/teams/", {"name": "Gamma"}, format="json")

    assert_error(response, 409, "conflict", "The request conflicts with the current state of the data.")


# --- flattening nested validation errors ------------------------------------------------------------
@pytest.mark.parametrize(
    ("errors", "flat"),
    [
        ({"values": [{"name": ["x"]}, {}]}, {"values.0.name": ["x"]}),
        ({"values": [{}, {"name": ["a", "b"]}]}, {"values.1.name": ["a", "b"]}),
        ({"name": ["Required."]}, {"name": ["Required."]}),
        ({"a": {"b": {"c": ["deep"]}}}, {"a.b.c": ["deep"]}),
        ({"values": {1: ["Not a valid integer."]}}, {"values.1": ["Not a valid integer."]}),
        ({"tags": [[], ["bad"]]}, {"tags.1": ["bad"]}),
        (
            ["Give either a user or an e-mail address."],
            {"non_field_errors": ["Give either a user or an e-mail address."]},
        ),
        ("plain message", {"non_field_errors": ["plain message"]}),
        ({"non_field_errors": ["Clash."]}, {"non_field_errors": ["Clash."]}),
        ([{"name": ["first"]}, {"name": ["second"]}], {"0.name": ["first"], "1.name": ["second"]}),
        (
            {"name": ["Too long."], "values": [{"name": ["x"], "weight": ["y"]}], "owner": {"email": ["z"]}},
            {"name": ["Too long."], "values.0.name": ["x"], "values.0.weight": ["y"], "owner.email": ["z"]},
        ),
    ],
)
def test_flatten_field_errors(errors, flat):
    assert flatten_field_errors(errors) == flat


def test_flatten_field_errors_turns_error_details_into_plain_strings():
    flat = flatten_field_errors({"name": [ErrorDetail("Required.", code="required")]})

    assert flat == {"name": ["Required."]}
    assert type(flat["name"][0]) is str


# --- commands that take no body --------------------------------------------------------------
def test_a_command_sent_a_body_is_a_400_and_does_nothing(cast, client_for):
    from outcomes.models import APIKey

    key = APIKey.objects.filter(company=cast.company_a).first()
    assert key is not None and key.revoked_at is None
    client = client_for(cast.owner_a)
    url = f"/api/v1/companies/alpha/api-keys/{key.pk}/revoke/"

    named = client.post(url, {"revoked_at": "2001-01-01T00:00:00Z"}, format="json")
    listed = client.post(url, [1, 2], format="json")
    missing = client.post("/api/v1/companies/alpha/api-keys/987654/revoke/", {"x": 1}, format="json")

    assert_invalid(named, "revoked_at")
    assert assert_invalid(listed, "non_field_errors")["fields"]["non_field_errors"] == ["This command takes no body."]
    assert missing.status_code == 404  # the object is looked for before the body
    key.refresh_from_db()
    assert key.revoked_at is None
    assert client.post(url, format="json").status_code == 200  # without a body it works

"""The tenancy API as its users rely on it: companies, members, teams and API keys."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from outcomes.choices import APIKeyScope, Role
from outcomes.models import APIKey, Company, Membership, Team, TeamMembership, User
from outcomes.services.api_keys import api_key_create
from outcomes.services.teams import team_create
from tests.assertions import assert_invalid
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

A = "/api/v1/companies/alpha"
KEY_FORMAT = re.compile(r"^okr_[0-9A-Za-z]{36}$")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "fields" not in body
    return body


def names(response) -> list[str]:
    return [item["name"] for item in response.json()["results"]]


def emails(response) -> list[str]:
    return [item["user"]["email"] for item in response.json()["results"]]


def membership_of(user, company) -> Membership:
    return Membership.objects.get(user=user, company=company)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# =====================================================================================
# Companies
# =====================================================================================
def test_company_list_shows_only_my_companies(cast, client_for):
    third = CompanyFactory(name="Charlie Cargo", slug="charlie")
    MembershipFactory(user=cast.member_a, company=third, role=Role.VIEWER)

    response = client_for(cast.member_a).get("/api/v1/companies/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(c["slug"], c["name"]) for c in body["results"]] == [
        ("alpha", "Alpha Analytics"),
        ("charlie", "Charlie Cargo"),
    ]
    assert "bravo" not in response.content.decode()


def test_company_list_for_owner_b_does_not_show_company_a(cast, client_for):
    response = client_for(cast.owner_b).get("/api/v1/companies/")

    assert response.status_code == 200
    assert [c["slug"] for c in response.json()["results"]] == ["bravo"]
    text = response.content.decode()
    for marker in cast.markers_of_a():
        assert marker not in text


def test_company_list_for_api_key_shows_only_its_company(cast, key_client):
    CompanyFactory(name="Charlie Cargo", slug="charlie")

    response = key_client(cast.raw_key_a).get("/api/v1/companies/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["slug"] == "alpha"
    assert body["results"][0]["name"] == "Alpha Analytics"


def test_company_create_makes_the_caller_owner(cast, client_for):
    response = client_for(cast.member_b).post("/api/v1/companies/", {"name": "Delta Dynamics"})

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Delta Dynamics"
    assert body["slug"] == "delta-dynamics"
    assert body["timezone"] == "UTC"
    company = Company.objects.get(pk=body["id"])
    assert company.slug == "delta-dynamics"
    assert list(company.memberships.values_list("user_id", "role")) == [(cast.member_b.pk, Role.OWNER)]


def test_company_create_derives_unique_slugs_for_equal_names(cast, client_for):
    client = client_for(cast.owner_a)

    first = client.post("/api/v1/companies/", {"name": "Echo Labs"})
    second = client.post("/api/v1/companies/", {"name": "Echo Labs"})
    clash_with_existing = client.post("/api/v1/companies/", {"name": "Alpha"})

    assert (first.status_code, second.status_code, clash_with_existing.status_code) == (201, 201, 201)
    assert first.json()["slug"] == "echo-labs"
    assert re.fullmatch(r"echo-labs-[a-z0-9]+", second.json()["slug"])
    assert re.fullmatch(r"alpha-[a-z0-9]+", clash_with_existing.json()["slug"])
    assert Company.objects.filter(name="Echo Labs").count() == 2
    assert Company.objects.get(slug="alpha").name == "Alpha Analytics"
    detail = client.get(f"/api/v1/companies/{second.json()['slug']}/")
    assert detail.json()["id"] == second.json()["id"]
    assert list(Membership.objects.filter(company_id=second.json()["id"]).values_list("user_id", "role")) == [
        (cast.owner_a.pk, Role.OWNER)
    ]


def test_company_create_with_explicit_slug(cast, client_for):
    response = client_for(cast.owner_a).post(
        "/api/v1/companies/", {"name": "Foxtrot", "slug": "fox", "timezone": "Europe/Berlin"}
    )

    assert response.status_code == 201
    assert response.json()["slug"] == "fox"
    assert Company.objects.get(slug="fox").timezone == "Europe/Berlin"


def test_company_create_with_taken_slug_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post("/api/v1/companies/", {"name": "Another Bravo", "slug": "bravo"})

    assert_invalid(response, "slug")
    assert not Company.objects.filter(name="Another Bravo").exists()
    assert Company.objects.get(slug="bravo").name == "Bravo Biotech"


def test_company_create_with_slug_differing_only_in_case_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post("/api/v1/companies/", {"name": "Bravo Lookalike", "slug": "Bravo"})

    assert_invalid(response, "slug")
    assert not Company.objects.filter(name="Bravo Lookalike").exists()


def test_company_create_with_unknown_timezone_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post("/api/v1/companies/", {"name": "Golf", "timezone": "Mars/Olympus"})

    assert_invalid(response, "timezone")
    assert not Company.objects.filter(name="Golf").exists()


def test_company_create_without_name_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post("/api/v1/companies/", {})

    assert_invalid(response, "name")


def test_company_create_with_api_key_is_forbidden(cast, key_client):
    response = key_client(cast.raw_key_a).post("/api/v1/companies/", {"name": "Machine Made"})

    assert_error(response, 403, "permission_denied")
    assert not Company.objects.filter(name="Machine Made").exists()


def test_company_detail(cast, client_for):
    response = client_for(cast.viewer_a).get(f"{A}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == cast.company_a.pk
    assert body["name"] == "Alpha Analytics"
    assert body["slug"] == "alpha"
    assert body["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_company_patch_by_managers(cast, client_for, role):
    response = client_for(cast.by_role_a[role]).patch(f"{A}/", {"name": "Alpha Renamed", "timezone": "Asia/Tokyo"})

    assert response.status_code == 200
    assert response.json()["name"] == "Alpha Renamed"
    assert response.json()["timezone"] == "Asia/Tokyo"
    cast.company_a.refresh_from_db()
    assert (cast.company_a.name, cast.company_a.timezone) == ("Alpha Renamed", "Asia/Tokyo")


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.MEMBER, Role.VIEWER])
def test_company_patch_by_other_roles_is_forbidden(cast, client_for, role):
    response = client_for(cast.by_role_a[role]).patch(f"{A}/", {"name": "Hijacked"})

    assert_error(response, 403, "permission_denied")
    cast.company_a.refresh_from_db()
    assert cast.company_a.name == "Alpha Analytics"


def test_company_patch_with_bad_timezone_is_refused(cast, client_for):
    response = client_for(cast.owner_a).patch(f"{A}/", {"timezone": "Nowhere/Special"})

    assert_invalid(response, "timezone")
    cast.company_a.refresh_from_db()
    assert cast.company_a.timezone == "Europe/Berlin"


def test_company_patch_cannot_change_the_slug(cast, client_for):
    # The slug is part of every URL integrations use: naming it in an update is a 400 and nothing changes.
    response = client_for(cast.owner_a).patch(f"{A}/", {"slug": "alpha-new", "name": "Alpha Two"})

    assert_invalid(response, "slug")
    assert response.json()["fields"]["slug"] == ["Unknown field."]
    cast.company_a.refresh_from_db()
    assert (cast.company_a.slug, cast.company_a.name) == ("alpha", "Alpha Analytics")
    assert not Company.objects.filter(slug="alpha-new").exists()


def test_unknown_body_fields_are_refused_by_every_input(cast, client_for):
    client = client_for(cast.owner_a)
    attempts = [
        client.post(f"{A}/teams/", {"name": "Ghost", "company": cast.company_b.pk}),
        client.patch(f"{A}/teams/{cast.team_a.pk}/", {"nmae": "Typo"}),
        client.post(f"{A}/members/", {"email": cast.owner_b.email, "is_staff": True}),
        client.post(f"{A}/api-keys/", {"name": "k", "digest": "0" * 64}),
    ]
    for response, field in zip(attempts, ["company", "nmae", "is_staff", "digest"], strict=True):
        assert_invalid(response, field)
    assert not Team.objects.filter(name__in=["Ghost", "Typo"]).exists()
    assert not Membership.objects.filter(user=cast.owner_b, company=cast.company_a).exists()


# =====================================================================================
# Members
# =====================================================================================
def test_member_list_shows_people_with_roles(cast, client_for):
    response = client_for(cast.viewer_a).get(f"{A}/members/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    roles = {item["user"]["email"]: item["role"] for item in body["results"]}
    assert roles == {
        "owner.alpha@example.test": "owner",
        "admin.alpha@example.test": "admin",
        "executive.alpha@example.test": "executive",
        "member.alpha@example.test": "member",
        "viewer.alpha@example.test": "viewer",
    }
    assert "bravo" not in response.content.decode()


def test_member_detail(cast, client_for):
    membership = membership_of(cast.member_a, cast.company_a)

    response = client_for(cast.viewer_a).get(f"{A}/members/{membership.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == membership.pk
    assert body["role"] == "member"
    assert body["user"] == {"id": cast.member_a.pk, "email": cast.member_a.email, "full_name": "Alpha Member"}


def test_member_of_another_company_is_not_found_through_company_a(cast, client_for):
    foreign = membership_of(cast.member_b, cast.company_b)

    response = client_for(cast.owner_a).get(f"{A}/members/{foreign.pk}/")

    assert_error(response, 404, "not_found")
    assert "bravo" not in response.content.decode()


def test_invite_by_email_is_case_insensitive(cast, client_for):
    response = client_for(cast.admin_a).post(
        f"{A}/members/", {"email": "  MEMBER.Bravo@Example.TEST", "role": "executive"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "executive"
    assert body["user"]["id"] == cast.member_b.pk
    assert membership_of(cast.member_b, cast.company_a).role == Role.EXECUTIVE
    assert membership_of(cast.member_b, cast.company_b).role == Role.MEMBER


def test_invite_defaults_to_member_role(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/members/", {"email": "owner.bravo@example.test"})

    assert response.status_code == 201
    assert response.json()["role"] == "member"
    assert membership_of(cast.owner_b, cast.company_a).role == Role.MEMBER


def test_invite_by_user_id_of_someone_sharing_a_company(cast, client_for):
    shared = CompanyFactory(name="Side Project", slug="side")
    MembershipFactory(user=cast.owner_a, company=shared, role=Role.OWNER)
    MembershipFactory(user=cast.member_b, company=shared, role=Role.MEMBER)

    response = client_for(cast.owner_a).post(f"{A}/members/", {"user": cast.member_b.pk, "role": "viewer"})

    assert response.status_code == 201, response.content
    assert response.json()["user"]["email"] == "member.bravo@example.test"
    assert response.json()["role"] == "viewer"
    assert membership_of(cast.member_b, cast.company_a).role == Role.VIEWER


def test_invite_unknown_email_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/members/", {"email": "nobody@example.test"})

    assert_invalid(response, "email")
    assert cast.company_a.memberships.count() == 5


def test_invite_by_user_id_of_a_stranger_is_refused(cast, client_for):
    # member_b shares no company with owner_a: the id must look like one that does not exist.
    response = client_for(cast.owner_a).post(f"{A}/members/", {"user": cast.member_b.pk})

    assert_invalid(response, "user")
    assert not Membership.objects.filter(user=cast.member_b, company=cast.company_a).exists()
    assert "member.bravo" not in response.content.decode()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"role": "member"}, id="neither"),
        pytest.param({"email": "member.bravo@example.test", "user": "SELF"}, id="both"),
    ],
)
def test_invite_needs_exactly_one_of_user_or_email(cast, client_for, payload):
    payload = {key: cast.member_a.pk if value == "SELF" else value for key, value in payload.items()}

    response = client_for(cast.owner_a).post(f"{A}/members/", payload)

    assert_invalid(response, "non_field_errors")
    assert not Membership.objects.filter(user=cast.member_b, company=cast.company_a).exists()


def test_invite_someone_already_a_member_is_refused(cast, client_for):
    by_email = client_for(cast.owner_a).post(f"{A}/members/", {"email": "viewer.alpha@example.test", "role": "admin"})
    by_id = client_for(cast.owner_a).post(f"{A}/members/", {"user": cast.viewer_a.pk, "role": "admin"})

    assert_invalid(by_email, "email")
    assert_invalid(by_id, "user")
    assert Membership.objects.filter(user=cast.viewer_a, company=cast.company_a).count() == 1
    assert membership_of(cast.viewer_a, cast.company_a).role == Role.VIEWER


def test_admin_cannot_add_an_owner(cast, client_for):
    response = client_for(cast.admin_a).post(f"{A}/members/", {"email": "member.bravo@example.test", "role": "owner"})

    assert_error(response, 403, "permission_denied")
    assert not Membership.objects.filter(user=cast.member_b, company=cast.company_a).exists()


def test_owner_can_add_an_owner(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/members/", {"email": "member.bravo@example.test", "role": "owner"})

    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    assert membership_of(cast.member_b, cast.company_a).role == Role.OWNER


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.MEMBER, Role.VIEWER])
def test_other_roles_cannot_add_members(cast, client_for, role):
    response = client_for(cast.by_role_a[role]).post(f"{A}/members/", {"email": "member.bravo@example.test"})

    assert_error(response, 403, "permission_denied")
    assert not Membership.objects.filter(user=cast.member_b, company=cast.company_a).exists()


def test_admin_changes_a_role(cast, client_for):
    membership = membership_of(cast.member_a, cast.company_a)

    response = client_for(cast.admin_a).patch(f"{A}/members/{membership.pk}/", {"role": "executive"})

    assert response.status_code == 200
    assert response.json()["role"] == "executive"
    assert response.json()["user"]["id"] == cast.member_a.pk
    membership.refresh_from_db()
    assert membership.role == Role.EXECUTIVE


def test_change_to_an_unknown_role_is_refused(cast, client_for):
    membership = membership_of(cast.member_a, cast.company_a)

    response = client_for(cast.owner_a).patch(f"{A}/members/{membership.pk}/", {"role": "emperor"})

    assert_invalid(response, "role")
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER


def test_admin_cannot_promote_to_owner(cast, client_for):
    membership = membership_of(cast.member_a, cast.company_a)

    response = client_for(cast.admin_a).patch(f"{A}/members/{membership.pk}/", {"role": "owner"})

    assert_error(response, 403, "permission_denied")
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER


def test_admin_cannot_demote_an_owner(cast, client_for):
    MembershipFactory(user=cast.owner_b, company=cast.company_a, role=Role.OWNER)
    membership = membership_of(cast.owner_a, cast.company_a)

    response = client_for(cast.admin_a).patch(f"{A}/members/{membership.pk}/", {"role": "viewer"})

    assert_error(response, 403, "permission_denied")
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_owner_can_promote_to_owner(cast, client_for):
    membership = membership_of(cast.admin_a, cast.company_a)

    response = client_for(cast.owner_a).patch(f"{A}/members/{membership.pk}/", {"role": "owner"})

    assert response.status_code == 200
    assert response.json()["role"] == "owner"
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_last_owner_cannot_be_demoted(cast, client_for):
    membership = membership_of(cast.owner_a, cast.company_a)

    response = client_for(cast.owner_a).patch(f"{A}/members/{membership.pk}/", {"role": "admin"})

    assert_invalid(response, "role")
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_an_owner_can_step_down_when_another_owner_remains(cast, client_for):
    MembershipFactory(user=cast.owner_b, company=cast.company_a, role=Role.OWNER)
    membership = membership_of(cast.owner_a, cast.company_a)

    response = client_for(cast.owner_a).patch(f"{A}/members/{membership.pk}/", {"role": "admin"})

    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    assert list(Membership.objects.owners().filter(company=cast.company_a).values_list("user_id", flat=True)) == [
        cast.owner_b.pk
    ]


def test_last_owner_cannot_be_removed(cast, client_for):
    membership = membership_of(cast.owner_a, cast.company_a)

    response = client_for(cast.owner_a).delete(f"{A}/members/{membership.pk}/")

    body = assert_invalid(response, "non_field_errors")
    assert "owner" in body["fields"]["non_field_errors"][0]
    assert Membership.objects.filter(pk=membership.pk, role=Role.OWNER).exists()
    assert cast.company_a.memberships.count() == 5


def test_admin_cannot_remove_an_owner(cast, client_for):
    MembershipFactory(user=cast.owner_b, company=cast.company_a, role=Role.OWNER)
    membership = membership_of(cast.owner_a, cast.company_a)

    response = client_for(cast.admin_a).delete(f"{A}/members/{membership.pk}/")

    assert_error(response, 403, "permission_denied")
    assert Membership.objects.filter(pk=membership.pk, role=Role.OWNER).exists()


def test_owner_can_remove_another_owner(cast, client_for):
    MembershipFactory(user=cast.owner_b, company=cast.company_a, role=Role.OWNER)
    second = membership_of(cast.owner_b, cast.company_a)

    response = client_for(cast.owner_a).delete(f"{A}/members/{second.pk}/")

    assert response.status_code == 204
    assert not Membership.objects.filter(pk=second.pk).exists()
    assert membership_of(cast.owner_b, cast.company_b).role == Role.OWNER


def test_member_cannot_remove_anyone(cast, client_for):
    membership = membership_of(cast.viewer_a, cast.company_a)

    response = client_for(cast.member_a).delete(f"{A}/members/{membership.pk}/")

    assert_error(response, 403, "permission_denied")
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_removing_a_member_clears_their_teams_and_leads_in_that_company_only(cast, client_for):
    # member_a also works for company B: on B's team and its lead.
    MembershipFactory(user=cast.member_a, company=cast.company_b, role=Role.MEMBER)
    TeamMembership.objects.create(team=cast.team_b, user=cast.member_a)
    Team.objects.filter(pk=cast.team_b.pk).update(lead=cast.member_a)
    second_a = team_create(company=cast.company_a, name="Alpha Platform", lead=cast.member_a, members=[cast.viewer_a])
    membership = membership_of(cast.member_a, cast.company_a)

    response = client_for(cast.admin_a).delete(f"{A}/members/{membership.pk}/")

    assert response.status_code == 204
    assert response.content == b""
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert not TeamMembership.objects.filter(team__company=cast.company_a, user=cast.member_a).exists()
    assert list(Team.objects.filter(company=cast.company_a, lead=cast.member_a)) == []
    second_a.refresh_from_db()
    assert second_a.lead is None
    assert list(second_a.members.all()) == [cast.viewer_a]
    # Company B is untouched.
    cast.team_b.refresh_from_db()
    assert cast.team_b.lead == cast.member_a
    assert set(cast.team_b.members.all()) == {cast.member_a, cast.member_b}
    assert membership_of(cast.member_a, cast.company_b).role == Role.MEMBER
    # And the team API of A no longer mentions them.
    teams = client_for(cast.owner_a).get(f"{A}/teams/").json()["results"]
    assert "member.alpha@example.test" not in str(teams)


def test_removed_member_loses_access(cast, client_for):
    membership = membership_of(cast.viewer_a, cast.company_a)
    client_for(cast.owner_a).delete(f"{A}/members/{membership.pk}/")

    response = client_for(cast.viewer_a).get(f"{A}/teams/")

    assert_error(response, 404, "not_found")


def test_member_filter_by_role(cast, client_for):
    client = client_for(cast.owner_a)

    one = client.get(f"{A}/members/", {"role": "admin"})
    several = client.get(f"{A}/members/?role=owner&role=viewer&ordering=email")

    assert emails(one) == ["admin.alpha@example.test"]
    assert emails(several) == ["owner.alpha@example.test", "viewer.alpha@example.test"]


def test_member_filter_by_unknown_role_is_refused(cast, client_for):
    assert_invalid(client_for(cast.owner_a).get(f"{A}/members/", {"role": "emperor"}), "role")


def test_member_search(cast, client_for):
    client = client_for(cast.owner_a)

    by_email = client.get(f"{A}/members/", {"q": "EXECUTIVE.alpha"})
    by_name = client.get(f"{A}/members/", {"q": "alpha view"})
    nobody = client.get(f"{A}/members/", {"q": "bravo"})

    assert emails(by_email) == ["executive.alpha@example.test"]
    assert emails(by_name) == ["viewer.alpha@example.test"]
    assert nobody.json()["count"] == 0


def test_member_ordering_by_email(cast, client_for):
    client = client_for(cast.owner_a)
    expected = sorted(f"{role}.alpha@example.test" for role in Role.values)

    ascending = client.get(f"{A}/members/", {"ordering": "email"})
    descending = client.get(f"{A}/members/", {"ordering": "-email"})

    assert emails(ascending) == expected
    assert emails(descending) == expected[::-1]


def test_member_filter_by_user_id(cast, client_for):
    response = client_for(cast.owner_a).get(f"{A}/members/", {"user_id": cast.viewer_a.pk})

    assert emails(response) == ["viewer.alpha@example.test"]


def test_member_filter_by_user_id_of_another_company_is_refused(cast, client_for):
    response = client_for(cast.owner_a).get(f"{A}/members/", {"user_id": cast.member_b.pk})

    assert_invalid(response, "user_id")
    assert "member.bravo" not in response.content.decode()


def test_member_list_refuses_unknown_query_parameters(cast, client_for):
    assert_invalid(client_for(cast.owner_a).get(f"{A}/members/", {"sort": "email"}), "sort")


# =====================================================================================
# Teams
# =====================================================================================
def test_team_create_with_lead_and_members(cast, client_for):
    payload = {
        "name": "Alpha Data",
        "topology": "platform",
        "lead": cast.admin_a.pk,
        "members": [cast.viewer_a.pk, cast.executive_a.pk],
        "monthly_cost": "12500.50",
        "cost_currency": "EUR",
    }

    response = client_for(cast.admin_a).post(f"{A}/teams/", payload)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Alpha Data"
    assert body["topology"] == "platform"
    assert body["lead"] == {"id": cast.admin_a.pk, "email": cast.admin_a.email, "full_name": "Alpha Admin"}
    assert [m["email"] for m in body["members"]] == ["executive.alpha@example.test", "viewer.alpha@example.test"]
    assert Decimal(body["monthly_cost"]) == Decimal("12500.50")
    assert body["cost_currency"] == "EUR"
    team = Team.objects.get(pk=body["id"])
    assert team.company == cast.company_a
    assert team.lead == cast.admin_a
    assert set(team.members.all()) == {cast.viewer_a, cast.executive_a}
    assert team.monthly_cost == Decimal("12500.50")


def test_team_create_with_only_a_name_uses_defaults(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/teams/", {"name": "Alpha Ops"})

    assert response.status_code == 201
    body = response.json()
    assert (body["topology"], body["lead"], body["members"]) == ("stream_aligned", None, [])
    assert (body["monthly_cost"], body["cost_currency"]) == (None, "")


def test_team_create_with_lead_from_another_company_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/teams/", {"name": "Alpha Spy", "lead": cast.member_b.pk})

    assert_invalid(response, "lead")
    assert not Team.objects.filter(name="Alpha Spy").exists()


def test_team_create_with_member_from_another_company_is_refused(cast, client_for):
    payload = {"name": "Alpha Spy", "members": [cast.member_a.pk, cast.member_b.pk]}

    response = client_for(cast.owner_a).post(f"{A}/teams/", payload)

    assert_invalid(response, "members")
    assert not Team.objects.filter(name="Alpha Spy").exists()
    assert not TeamMembership.objects.filter(user=cast.member_b, team__company=cast.company_a).exists()


def test_team_create_with_duplicate_name_is_refused_case_insensitively(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/teams/", {"name": "ALPHA checkout"})

    assert_invalid(response, "name")
    assert Team.objects.filter(company=cast.company_a).count() == 1


def test_team_names_are_unique_per_company_only(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/teams/", {"name": "Bravo Lab"})

    assert response.status_code == 201
    assert Team.objects.filter(name="Bravo Lab").count() == 2


def test_team_cost_without_currency_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/teams/", {"name": "Alpha Cost", "monthly_cost": "100.00"})

    assert_invalid(response, "cost_currency")
    assert not Team.objects.filter(name="Alpha Cost").exists()


def test_team_currency_without_cost_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post(f"{A}/teams/", {"name": "Alpha Cost", "cost_currency": "EUR"})

    assert_invalid(response, "monthly_cost")
    assert not Team.objects.filter(name="Alpha Cost").exists()


@pytest.mark.parametrize("currency", ["XYZ", "eur", "EURO", "€"])
def test_team_currency_must_be_iso_4217(cast, client_for, currency):
    payload = {"name": "Alpha Cost", "monthly_cost": "100.00", "cost_currency": currency}

    response = client_for(cast.owner_a).post(f"{A}/teams/", payload)

    assert_invalid(response, "cost_currency")
    assert not Team.objects.filter(name="Alpha Cost").exists()


def test_team_negative_cost_is_refused(cast, client_for):
    payload = {"name": "Alpha Cost", "monthly_cost": "-0.01", "cost_currency": "EUR"}

    response = client_for(cast.owner_a).post(f"{A}/teams/", payload)

    assert_invalid(response, "monthly_cost")
    assert not Team.objects.filter(name="Alpha Cost").exists()


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.MEMBER, Role.VIEWER])
def test_team_create_by_other_roles_is_forbidden(cast, client_for, role):
    response = client_for(cast.by_role_a[role]).post(f"{A}/teams/", {"name": "Alpha Rogue"})

    assert_error(response, 403, "permission_denied")
    assert not Team.objects.filter(name="Alpha Rogue").exists()


def test_team_detail(cast, client_for):
    response = client_for(cast.viewer_a).get(f"{A}/teams/{cast.team_a.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Alpha Checkout"
    assert body["lead"]["id"] == cast.member_a.pk
    assert [m["id"] for m in body["members"]] == [cast.member_a.pk]


def test_team_of_another_company_is_not_found_through_company_a(cast, client_for):
    client = client_for(cast.owner_a)

    read = client.get(f"{A}/teams/{cast.team_b.pk}/")
    write = client.patch(f"{A}/teams/{cast.team_b.pk}/", {"name": "Taken Over"})
    delete = client.delete(f"{A}/teams/{cast.team_b.pk}/")

    for response in (read, write, delete):
        assert_error(response, 404, "not_found")
        assert "Bravo" not in response.content.decode()
    cast.team_b.refresh_from_db()
    assert cast.team_b.name == "Bravo Lab"


def test_team_put_replaces_fields(cast, client_for):
    payload = {
        "name": "Alpha Payments",
        "topology": "enabling",
        "lead": cast.executive_a.pk,
        "monthly_cost": "900.00",
        "cost_currency": "USD",
    }

    response = client_for(cast.owner_a).put(f"{A}/teams/{cast.team_a.pk}/", payload)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["topology"], body["lead"]["id"]) == ("Alpha Payments", "enabling", cast.executive_a.pk)
    assert (Decimal(body["monthly_cost"]), body["cost_currency"]) == (Decimal("900.00"), "USD")
    assert [m["id"] for m in body["members"]] == [cast.member_a.pk]
    cast.team_a.refresh_from_db()
    assert cast.team_a.name == "Alpha Payments"
    assert cast.team_a.topology == "enabling"
    assert cast.team_a.lead == cast.executive_a
    assert (cast.team_a.monthly_cost, cast.team_a.cost_currency) == (Decimal("900.00"), "USD")


def test_team_put_empties_what_the_body_leaves_out(cast, client_for):
    client = client_for(cast.owner_a)
    client.patch(
        f"{A}/teams/{cast.team_a.pk}/", {"monthly_cost": "500.00", "cost_currency": "EUR", "topology": "platform"}
    )

    response = client.put(f"{A}/teams/{cast.team_a.pk}/", {"name": "Alpha Core"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["topology"], body["lead"], body["monthly_cost"], body["cost_currency"]) == (
        "stream_aligned",
        None,
        None,
        "",
    )
    assert [m["id"] for m in body["members"]] == [cast.member_a.pk]  # members have their own routes
    cast.team_a.refresh_from_db()
    assert (cast.team_a.lead, cast.team_a.monthly_cost) == (None, None)


def test_team_put_needs_a_name(cast, client_for):
    response = client_for(cast.owner_a).put(f"{A}/teams/{cast.team_a.pk}/", {"topology": "platform"})

    assert_invalid(response, "name")
    cast.team_a.refresh_from_db()
    assert cast.team_a.topology == "stream_aligned"


def test_team_patch_changes_only_given_fields(cast, client_for):
    response = client_for(cast.admin_a).patch(f"{A}/teams/{cast.team_a.pk}/", {"topology": "complicated_subsystem"})

    assert response.status_code == 200
    body = response.json()
    assert body["topology"] == "complicated_subsystem"
    assert body["name"] == "Alpha Checkout"
    assert body["lead"]["id"] == cast.member_a.pk
    cast.team_a.refresh_from_db()
    assert (cast.team_a.name, cast.team_a.topology) == ("Alpha Checkout", "complicated_subsystem")
    assert cast.team_a.lead == cast.member_a


def test_team_patch_clears_the_lead(cast, client_for):
    response = client_for(cast.admin_a).patch(f"{A}/teams/{cast.team_a.pk}/", {"lead": None})

    assert response.status_code == 200
    assert response.json()["lead"] is None
    cast.team_a.refresh_from_db()
    assert cast.team_a.lead is None


def test_team_patch_with_lead_from_another_company_is_refused(cast, client_for):
    response = client_for(cast.admin_a).patch(f"{A}/teams/{cast.team_a.pk}/", {"lead": cast.owner_b.pk})

    assert_invalid(response, "lead")
    cast.team_a.refresh_from_db()
    assert cast.team_a.lead == cast.member_a


def test_team_patch_to_a_taken_name_is_refused(cast, client_for):
    team_create(company=cast.company_a, name="Alpha Search")

    response = client_for(cast.admin_a).patch(f"{A}/teams/{cast.team_a.pk}/", {"name": "alpha SEARCH"})

    assert_invalid(response, "name")
    cast.team_a.refresh_from_db()
    assert cast.team_a.name == "Alpha Checkout"


def test_team_patch_keeping_its_own_name_in_other_case_is_allowed(cast, client_for):
    response = client_for(cast.admin_a).patch(f"{A}/teams/{cast.team_a.pk}/", {"name": "ALPHA CHECKOUT"})

    assert response.status_code == 200
    cast.team_a.refresh_from_db()
    assert cast.team_a.name == "ALPHA CHECKOUT"


def test_team_delete_removes_team_and_memberships(cast, client_for):
    cast.strategic_a["investment"].delete()  # a team money flows through cannot be deleted
    cast.team_a.objectives.update(level="company", team=None)  # nor one with objectives
    cast.team_a.epics.update(team=None)  # nor one with epics
    team_id = cast.team_a.pk

    response = client_for(cast.owner_a).delete(f"{A}/teams/{team_id}/")

    assert response.status_code == 204
    assert not Team.objects.filter(pk=team_id).exists()
    assert not TeamMembership.objects.filter(team_id=team_id).exists()
    assert Membership.objects.filter(user=cast.member_a, company=cast.company_a).exists()
    assert Team.objects.filter(pk=cast.team_b.pk).exists()
    assert_error(client_for(cast.owner_a).get(f"{A}/teams/{team_id}/"), 404, "not_found")


def test_team_with_investments_cannot_be_deleted(cast, client_for):
    response = client_for(cast.owner_a).delete(f"{A}/teams/{cast.team_a.pk}/")

    assert response.status_code == 400
    assert "investments" in response.json()["fields"]["non_field_errors"][0]
    assert Team.objects.filter(pk=cast.team_a.pk).exists()


def test_team_delete_by_member_is_forbidden(cast, client_for):
    response = client_for(cast.member_a).delete(f"{A}/teams/{cast.team_a.pk}/")

    assert_error(response, 403, "permission_denied")
    assert Team.objects.filter(pk=cast.team_a.pk).exists()


def test_team_add_member(cast, client_for):
    response = client_for(cast.admin_a).post(f"{A}/teams/{cast.team_a.pk}/members/", {"user": cast.viewer_a.pk})

    assert response.status_code == 201
    assert [m["email"] for m in response.json()["members"]] == [
        "member.alpha@example.test",
        "viewer.alpha@example.test",
    ]
    assert set(cast.team_a.members.all()) == {cast.member_a, cast.viewer_a}
    listed = client_for(cast.viewer_a).get(f"{A}/teams/", {"member_id": cast.viewer_a.pk})
    assert names(listed) == ["Alpha Checkout"]


def test_team_add_member_twice_is_refused(cast, client_for):
    response = client_for(cast.admin_a).post(f"{A}/teams/{cast.team_a.pk}/members/", {"user": cast.member_a.pk})

    assert_invalid(response, "user")
    assert TeamMembership.objects.filter(team=cast.team_a, user=cast.member_a).count() == 1


def test_team_add_member_from_another_company_is_refused(cast, client_for):
    response = client_for(cast.admin_a).post(f"{A}/teams/{cast.team_a.pk}/members/", {"user": cast.member_b.pk})

    assert_invalid(response, "user")
    assert not TeamMembership.objects.filter(team=cast.team_a, user=cast.member_b).exists()


def test_team_remove_member(cast, client_for):
    client = client_for(cast.admin_a)
    url = f"{A}/teams/{cast.team_a.pk}/members/{cast.member_a.pk}/"

    first = client.delete(url)
    second = client.delete(url)

    assert first.status_code == 204
    assert not TeamMembership.objects.filter(team=cast.team_a, user=cast.member_a).exists()
    assert Membership.objects.filter(user=cast.member_a, company=cast.company_a).exists()
    assert_error(second, 404, "not_found")
    assert client.get(f"{A}/teams/{cast.team_a.pk}/").json()["members"] == []


def test_team_remove_member_of_another_company_team_is_not_found(cast, client_for):
    response = client_for(cast.admin_a).delete(f"{A}/teams/{cast.team_b.pk}/members/{cast.member_b.pk}/")

    assert_error(response, 404, "not_found")
    assert TeamMembership.objects.filter(team=cast.team_b, user=cast.member_b).exists()


@pytest.fixture
def more_teams(cast):
    platform = team_create(
        company=cast.company_a,
        name="Alpha Platform",
        topology="platform",
        lead=cast.admin_a,
        members=[cast.admin_a, cast.viewer_a],
        monthly_cost=Decimal("5000"),
        cost_currency="EUR",
    )
    enabling = team_create(
        company=cast.company_a,
        name="Alpha Enablement",
        topology="enabling",
        lead=cast.executive_a,
        members=[cast.viewer_a],
        monthly_cost=Decimal("100"),
        cost_currency="EUR",
    )
    return platform, enabling


def test_team_filter_by_topology(cast, client_for, more_teams):
    client = client_for(cast.viewer_a)

    assert names(client.get(f"{A}/teams/", {"topology": "platform"})) == ["Alpha Platform"]
    assert names(client.get(f"{A}/teams/?topology=platform&topology=enabling")) == [
        "Alpha Enablement",
        "Alpha Platform",
    ]
    assert_invalid(client.get(f"{A}/teams/", {"topology": "squad"}), "topology")


def test_team_filter_by_lead_and_member(cast, client_for, more_teams):
    client = client_for(cast.viewer_a)

    assert names(client.get(f"{A}/teams/", {"lead_id": cast.admin_a.pk})) == ["Alpha Platform"]
    assert names(client.get(f"{A}/teams/", {"member_id": cast.viewer_a.pk})) == ["Alpha Enablement", "Alpha Platform"]
    assert names(client.get(f"{A}/teams/", {"member_id": cast.owner_a.pk})) == []


def test_team_filter_by_people_of_another_company_is_refused(cast, client_for, more_teams):
    client = client_for(cast.viewer_a)

    assert_invalid(client.get(f"{A}/teams/", {"lead_id": cast.member_b.pk}), "lead_id")
    assert_invalid(client.get(f"{A}/teams/", {"member_id": cast.member_b.pk}), "member_id")


def test_team_search_and_ordering(cast, client_for, more_teams):
    client = client_for(cast.viewer_a)

    assert names(client.get(f"{A}/teams/", {"q": "PLAT"})) == ["Alpha Platform"]
    assert names(client.get(f"{A}/teams/", {"ordering": "-name"})) == [
        "Alpha Platform",
        "Alpha Enablement",
        "Alpha Checkout",
    ]
    by_cost = names(client.get(f"{A}/teams/", {"ordering": "monthly_cost", "topology": ["platform", "enabling"]}))
    assert by_cost == ["Alpha Enablement", "Alpha Platform"]
    assert_invalid(client.get(f"{A}/teams/", {"ordering": "lead"}), "ordering")


def test_team_list_never_shows_other_companies(cast, client_for, more_teams):
    response = client_for(cast.owner_b).get("/api/v1/companies/bravo/teams/")

    assert names(response) == ["Bravo Lab"]
    text = response.content.decode()
    for marker in [*cast.markers_of_a(), "Alpha Platform"]:
        assert marker not in text


@pytest.mark.parametrize("param", ["colour", "search", "name"])
def test_team_list_refuses_unknown_query_parameters(cast, client_for, param):
    response = client_for(cast.owner_a).get(f"{A}/teams/", {param: "x"})

    body = assert_invalid(response, param)
    assert body["fields"][param] == ["Unknown query parameter."]


def test_query_parameters_are_refused_on_detail_routes(cast, client_for):
    response = client_for(cast.owner_a).get(f"{A}/teams/{cast.team_a.pk}/", {"q": "x"})

    assert_invalid(response, "q")


@pytest.mark.parametrize("page_size", ["0", "101", "abc", "-1", "1.5"])
def test_page_size_out_of_bounds_is_refused(cast, client_for, page_size):
    response = client_for(cast.owner_a).get(f"{A}/teams/", {"page_size": page_size})

    assert_invalid(response, "page_size")


@pytest.mark.parametrize("page", ["0", "abc"])
def test_bad_page_number_is_refused(cast, client_for, page):
    assert_invalid(client_for(cast.owner_a).get(f"{A}/teams/", {"page": page}), "page")


def test_page_past_the_end_is_not_found(cast, client_for):
    response = client_for(cast.owner_a).get(f"{A}/teams/", {"page": "999"})

    assert_error(response, 404, "not_found")


def test_pagination_count_and_links(cast, client_for, more_teams):
    client = client_for(cast.owner_a)

    first = client.get(f"{A}/teams/", {"page_size": "2"})
    second = client.get(f"{A}/teams/", {"page_size": "2", "page": "2"})
    biggest = client.get(f"{A}/teams/", {"page_size": "100"})

    assert first.status_code == 200
    assert first.json()["count"] == 3
    assert names(first) == ["Alpha Checkout", "Alpha Enablement"]
    assert first.json()["previous"] is None
    assert "page=2" in first.json()["next"]
    assert "page_size=2" in first.json()["next"]
    assert names(second) == ["Alpha Platform"]
    assert second.json()["next"] is None
    assert second.json()["previous"] is not None
    assert biggest.json()["count"] == 3
    assert len(biggest.json()["results"]) == 3


# =====================================================================================
# API keys
# =====================================================================================
def create_key(client, **payload):
    return client.post(f"{A}/api-keys/", {"name": "Deploy bot", **payload})


def test_api_key_create_shows_the_key_once(cast, client_for):
    client = client_for(cast.owner_a)

    response = create_key(client, scope="write")

    assert response.status_code == 201
    body = response.json()
    raw = body["key"]
    assert KEY_FORMAT.match(raw)
    assert body["name"] == "Deploy bot"
    assert body["scope"] == "write"
    assert raw.startswith(body["prefix"])
    assert body["is_active"] is True
    assert body["revoked_at"] is None
    assert body["created_by"]["id"] == cast.owner_a.pk
    api_key = APIKey.objects.get(pk=body["id"])
    assert api_key.company == cast.company_a
    assert api_key.created_by == cast.owner_a

    listing = client.get(f"{A}/api-keys/")
    detail = client.get(f"{A}/api-keys/{body['id']}/")
    assert listing.status_code == 200
    assert detail.status_code == 200
    assert body["id"] in [item["id"] for item in listing.json()["results"]]
    assert detail.json()["prefix"] == body["prefix"]
    for response in (listing, detail):
        assert raw not in response.content.decode()
        assert raw[len(body["prefix"]) :] not in response.content.decode()
    assert "key" not in detail.json()


def test_api_key_is_not_stored_in_the_database(cast, client_for):
    raw = create_key(client_for(cast.owner_a)).json()["key"]
    secret_part = raw[len("okr_") + 10 :]

    for row in [*APIKey.objects.values(), *APIKey.history.values()]:
        for value in row.values():
            assert value != raw
            if isinstance(value, str):
                assert secret_part not in value


def test_api_key_created_through_the_api_works(cast, client_for, key_client):
    raw = create_key(client_for(cast.owner_a), scope="read").json()["key"]

    response = key_client(raw).get(f"{A}/teams/")

    assert response.status_code == 200
    assert names(response) == ["Alpha Checkout"]


def test_api_key_defaults_to_read_scope_and_90_days(cast, client_for):
    before = timezone.now()

    body = create_key(client_for(cast.owner_a)).json()

    assert body["scope"] == "read"
    expires_at = parse_time(body["expires_at"])
    assert before + timedelta(days=90) - timedelta(minutes=1) <= expires_at
    assert expires_at <= timezone.now() + timedelta(days=90) + timedelta(minutes=1)


def test_api_key_with_explicit_expiry(cast, client_for):
    wanted = (timezone.now() + timedelta(days=30)).replace(microsecond=0)

    response = create_key(client_for(cast.owner_a), expires_at=wanted.isoformat())

    assert response.status_code == 201
    assert parse_time(response.json()["expires_at"]) == wanted
    assert APIKey.objects.get(pk=response.json()["id"]).expires_at == wanted


@pytest.mark.parametrize(
    "offset", [timedelta(days=-1), timedelta(seconds=-5), timedelta(days=367), timedelta(days=3650)]
)
def test_api_key_expiry_must_be_within_a_year_ahead(cast, client_for, offset):
    before = APIKey.objects.count()

    response = create_key(client_for(cast.owner_a), expires_at=(timezone.now() + offset).isoformat())

    assert_invalid(response, "expires_at")
    assert APIKey.objects.count() == before


def test_api_key_with_unknown_scope_is_refused(cast, client_for):
    assert_invalid(create_key(client_for(cast.owner_a), scope="admin"), "scope")


def test_api_key_revoke(cast, client_for, key_client):
    api_key = APIKey.objects.get(company=cast.company_a)
    client = client_for(cast.admin_a)
    assert key_client(cast.raw_key_a).get(f"{A}/").status_code == 200

    response = client.post(f"{A}/api-keys/{api_key.pk}/revoke/")

    assert response.status_code == 200
    body = response.json()
    assert body["revoked_at"] is not None
    assert body["is_active"] is False
    assert "key" not in body
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key.revoked_by == cast.admin_a
    refused = key_client(cast.raw_key_a).get(f"{A}/")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_api_key_revoke_twice_keeps_the_first_revocation(cast, client_for):
    api_key = APIKey.objects.get(company=cast.company_a)
    first = client_for(cast.admin_a).post(f"{A}/api-keys/{api_key.pk}/revoke/")
    api_key.refresh_from_db()
    first_revoked_at = api_key.revoked_at

    second = client_for(cast.owner_a).post(f"{A}/api-keys/{api_key.pk}/revoke/")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["revoked_at"] == first.json()["revoked_at"]
    api_key.refresh_from_db()
    assert api_key.revoked_at == first_revoked_at
    assert api_key.revoked_by == cast.admin_a


def test_api_key_of_another_company_is_not_found(cast, client_for):
    foreign = APIKey.objects.get(company=cast.company_b)
    client = client_for(cast.owner_a)

    detail = client.get(f"{A}/api-keys/{foreign.pk}/")
    revoke = client.post(f"{A}/api-keys/{foreign.pk}/revoke/")

    assert_error(detail, 404, "not_found")
    assert_error(revoke, 404, "not_found")
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_api_key_filters(cast, client_for):
    owner = cast.owner_a
    api_key_create(company=cast.company_a, name="Reporting", scope=APIKeyScope.READ, created_by=owner)
    revoked = api_key_create(company=cast.company_a, name="Old CI", scope=APIKeyScope.WRITE, created_by=owner)
    expired = api_key_create(company=cast.company_a, name="Expired", scope=APIKeyScope.READ, created_by=owner)
    client = client_for(cast.owner_a)
    client.post(f"{A}/api-keys/{revoked.api_key.pk}/revoke/")
    APIKey.objects.filter(pk=expired.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    active = client.get(f"{A}/api-keys/", {"active": "true", "ordering": "name"})
    inactive = client.get(f"{A}/api-keys/", {"active": "false", "ordering": "name"})
    read = client.get(f"{A}/api-keys/", {"scope": "read", "ordering": "name"})
    write = client.get(f"{A}/api-keys/", {"scope": "write", "ordering": "name"})

    assert names(active) == ["Alpha CI", "Reporting"]
    assert all(item["is_active"] for item in active.json()["results"])
    assert names(inactive) == ["Expired", "Old CI"]
    assert not any(item["is_active"] for item in inactive.json()["results"])
    assert names(read) == ["Expired", "Reporting"]
    assert names(write) == ["Alpha CI", "Old CI"]
    assert "Bravo CI" not in client.get(f"{A}/api-keys/").content.decode()
    assert_invalid(client.get(f"{A}/api-keys/", {"scope": "admin"}), "scope")


def test_api_key_search_by_the_prefix_shown_in_the_list(cast, client_for):
    client = client_for(cast.owner_a)
    prefix = client.get(f"{A}/api-keys/").json()["results"][0]["prefix"]

    response = client.get(f"{A}/api-keys/", {"q": prefix})

    assert names(response) == ["Alpha CI"]


def key_routes(cast):
    api_key = APIKey.objects.get(company=cast.company_a, name="Alpha CI")
    return [
        ("get", f"{A}/api-keys/", None),
        ("post", f"{A}/api-keys/", {"name": "Sneaky"}),
        ("get", f"{A}/api-keys/{api_key.pk}/", None),
        ("post", f"{A}/api-keys/{api_key.pk}/revoke/", None),
    ]


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.MEMBER, Role.VIEWER])
def test_api_key_routes_are_for_managers_only(cast, client_for, role):
    client = client_for(cast.by_role_a[role])

    for method, url, payload in key_routes(cast):
        response = getattr(client, method)(url, payload)
        assert_error(response, 403, "permission_denied")
        assert "okr_" not in response.content.decode()

    assert not APIKey.objects.filter(name="Sneaky").exists()
    assert not APIKey.objects.filter(revoked_at__isnull=False).exists()


@pytest.mark.parametrize("scope", [APIKeyScope.READ, APIKeyScope.WRITE])
def test_api_key_routes_refuse_api_keys(cast, key_client, scope):
    raw = api_key_create(company=cast.company_a, name="Machine", scope=scope, created_by=cast.owner_a).raw
    client = key_client(raw)

    for method, url, payload in key_routes(cast):
        response = getattr(client, method)(url, payload)
        assert_error(response, 403, "permission_denied")

    assert not APIKey.objects.filter(name="Sneaky").exists()
    assert not APIKey.objects.filter(revoked_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_fresh_person_can_create_a_company_and_manage_it(client_for):
    UserFactory(email="founder@example.test")
    person = User.objects.get(email="founder@example.test")
    client = client_for(person)

    slug = client.post("/api/v1/companies/", {"name": "Founders Inc"}).json()["slug"]
    team = client.post(f"/api/v1/companies/{slug}/teams/", {"name": "Core", "lead": person.pk, "members": [person.pk]})

    assert team.status_code == 201
    assert team.json()["lead"]["email"] == "founder@example.test"
    assert client.get(f"/api/v1/companies/{slug}/members/").json()["results"][0]["role"] == "owner"

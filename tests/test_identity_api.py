"""The company identity as its users rely on it: mission, vision and values, written as versions."""

from __future__ import annotations

import pytest

from outcomes.choices import APIKeyScope, Role
from outcomes.models import IdentityVersion
from outcomes.services.api_keys import api_key_create
from outcomes.services.identity import identity_update
from tests.assertions import assert_invalid
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

A = "/api/v1/companies/alpha"
IDENTITY = f"{A}/identity/"
VERSIONS = f"{A}/identity/versions/"

NEW_IDENTITY = {
    "mission": "Small online shops sell more with our checkout.",
    "vision": "Every independent shop runs its payments on us.",
    "values": [
        {"name": "Customers first", "description": "We decide by what the shop owner needs."},
        {"name": "Measure, then decide", "description": "No opinion beats a number."},
        {"name": "Candour", "description": ""},
    ],
    "change_note": "Vision widened after the 2026 strategy review.",
}


def versions_of(company) -> list[tuple[int, str, str, list]]:
    rows = IdentityVersion.objects.filter(company=company).order_by("number")
    return [(v.number, v.mission, v.vision, v.values) for v in rows]


# --- reading ------------------------------------------------------------------------
def test_get_identity_returns_the_newest_version(cast, client_for):
    response = client_for(cast.viewer_a).get(IDENTITY)

    assert response.status_code == 200
    body = response.json()
    assert body["number"] == 1
    assert body["mission"] == "Alpha mission: shops sell more"
    assert body["vision"] == "Alpha vision"
    assert body["values"] == [{"name": "Candour", "description": "Say it."}]
    assert body["author"]["email"] == cast.owner_a.email
    assert body["author_api_key_prefix"] == ""


def test_get_identity_is_404_for_a_company_without_one(db, client_for):
    company = CompanyFactory(name="Delta Dynamics", slug="delta")
    owner = UserFactory()
    MembershipFactory(user=owner, company=company, role=Role.OWNER)

    response = client_for(owner).get("/api/v1/companies/delta/identity/")

    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404
    assert body["code"] == "not_found"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "fields" not in body


def test_versions_list_is_empty_for_a_company_without_identity(db, client_for):
    company = CompanyFactory(slug="delta")
    owner = UserFactory()
    MembershipFactory(user=owner, company=company, role=Role.OWNER)

    response = client_for(owner).get("/api/v1/companies/delta/identity/versions/")

    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert response.json()["results"] == []


# --- writing ------------------------------------------------------------------------
def test_put_creates_version_two_with_author_note_and_values_in_order(cast, client_for):
    response = client_for(cast.executive_a).put(IDENTITY, NEW_IDENTITY)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["number"] == 2
    assert body["mission"] == NEW_IDENTITY["mission"]
    assert body["vision"] == NEW_IDENTITY["vision"]
    assert body["values"] == NEW_IDENTITY["values"]
    assert body["change_note"] == NEW_IDENTITY["change_note"]
    assert body["author"]["email"] == cast.executive_a.email
    assert body["author_api_key_prefix"] == ""
    version = IdentityVersion.objects.get(company=cast.company_a, number=2)
    assert version.author == cast.executive_a
    assert version.change_note == NEW_IDENTITY["change_note"]
    assert [v["name"] for v in version.values] == ["Customers first", "Measure, then decide", "Candour"]
    assert client_for(cast.viewer_a).get(IDENTITY).json()["number"] == 2


def test_put_with_values_in_a_new_order_is_a_new_version(cast, client_for):
    client = client_for(cast.owner_a)
    client.put(IDENTITY, NEW_IDENTITY)
    reordered = {**NEW_IDENTITY, "values": list(reversed(NEW_IDENTITY["values"]))}

    response = client.put(IDENTITY, reordered)

    assert response.status_code == 200
    assert response.json()["number"] == 3
    assert [v["name"] for v in response.json()["values"]] == ["Candour", "Measure, then decide", "Customers first"]


def test_put_strips_value_names_and_descriptions(cast, client_for):
    body = {**NEW_IDENTITY, "values": [{"name": "  Candour  ", "description": "  Say it.  "}]}

    response = client_for(cast.owner_a).put(IDENTITY, body)

    assert response.status_code == 200
    assert response.json()["values"] == [{"name": "Candour", "description": "Say it."}]


def test_put_with_identical_content_adds_no_version(cast, client_for):
    client = client_for(cast.owner_a)
    first = client.put(IDENTITY, NEW_IDENTITY)

    again = client.put(IDENTITY, {**NEW_IDENTITY, "change_note": "Nothing really changed."})

    assert first.json()["number"] == again.json()["number"] == 2
    assert again.json()["change_note"] == NEW_IDENTITY["change_note"]
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 2


def test_put_of_the_current_identity_adds_no_version(cast, client_for):
    current = {
        "mission": "Alpha mission: shops sell more",
        "vision": "Alpha vision",
        "values": [{"name": "Candour", "description": "Say it."}],
    }

    response = client_for(cast.owner_a).put(IDENTITY, current)

    assert response.status_code == 200
    assert response.json()["number"] == 1
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


def test_put_needs_mission_vision_and_values(cast, client_for):
    response = client_for(cast.owner_a).put(IDENTITY, {"change_note": "Forgot everything"})

    assert_invalid(response, "mission", "vision", "values")
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


def test_patch_changes_only_vision_and_carries_mission_and_values_over(cast, client_for):
    response = client_for(cast.admin_a).patch(IDENTITY, {"vision": "A sharper vision", "change_note": "Sharper."})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["number"] == 2
    assert body["vision"] == "A sharper vision"
    assert body["mission"] == "Alpha mission: shops sell more"
    assert body["values"] == [{"name": "Candour", "description": "Say it."}]
    assert body["change_note"] == "Sharper."
    assert body["author"]["email"] == cast.admin_a.email
    assert versions_of(cast.company_a)[-1] == (
        2,
        "Alpha mission: shops sell more",
        "A sharper vision",
        [{"name": "Candour", "description": "Say it."}],
    )


def test_patch_with_unchanged_content_adds_no_version(cast, client_for):
    response = client_for(cast.owner_a).patch(IDENTITY, {"vision": "Alpha vision"})

    assert response.status_code == 200
    assert response.json()["number"] == 1
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


def test_patch_on_a_company_without_identity_needs_mission_and_vision(db, client_for):
    company = CompanyFactory(slug="delta")
    owner = UserFactory()
    MembershipFactory(user=owner, company=company, role=Role.OWNER)

    response = client_for(owner).patch("/api/v1/companies/delta/identity/", {"vision": "Only a vision"})

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "mission" in fields
    assert "vision" not in fields
    assert not IdentityVersion.objects.filter(company=company).exists()


def test_patch_on_a_company_without_identity_writes_version_one(db, client_for):
    company = CompanyFactory(slug="delta")
    owner = UserFactory()
    MembershipFactory(user=owner, company=company, role=Role.OWNER)

    response = client_for(owner).patch(
        "/api/v1/companies/delta/identity/", {"mission": "M", "vision": "V", "values": []}
    )

    assert response.status_code == 200, response.content
    assert response.json()["number"] == 1
    assert versions_of(company) == [(1, "M", "V", [])]


def test_unknown_field_in_identity_body_is_refused(cast, client_for):
    response = client_for(cast.owner_a).patch(IDENTITY, {"vison": "Typo"})

    body = assert_invalid(response, "vison")
    assert body["fields"]["vison"] == ["Unknown field."]
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


# --- history ------------------------------------------------------------------------
def test_versions_are_listed_newest_first_and_each_is_readable_by_number(cast, client_for):
    editor = client_for(cast.owner_a)
    editor.put(IDENTITY, NEW_IDENTITY)
    editor.patch(IDENTITY, {"vision": "Third vision", "change_note": "Third."})
    reader = client_for(cast.viewer_a)

    listed = reader.get(VERSIONS)

    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 3
    assert [(v["number"], v["vision"]) for v in body["results"]] == [
        (3, "Third vision"),
        (2, NEW_IDENTITY["vision"]),
        (1, "Alpha vision"),
    ]
    assert [v["change_note"] for v in body["results"]] == ["Third.", NEW_IDENTITY["change_note"], ""]
    for number, vision in ((1, "Alpha vision"), (2, NEW_IDENTITY["vision"]), (3, "Third vision")):
        one = reader.get(f"{VERSIONS}{number}/")
        assert one.status_code == 200
        assert one.json()["number"] == number
        assert one.json()["vision"] == vision


def test_a_version_number_that_does_not_exist_is_404(cast, client_for):
    response = client_for(cast.owner_a).get(f"{VERSIONS}2/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_version_one_is_unchanged_after_edits(cast, client_for):
    before = client_for(cast.owner_a).get(f"{VERSIONS}1/").json()
    editor = client_for(cast.owner_a)
    editor.put(IDENTITY, NEW_IDENTITY)
    editor.patch(IDENTITY, {"mission": "Yet another mission"})

    after = client_for(cast.owner_a).get(f"{VERSIONS}1/").json()

    assert after == before
    assert versions_of(cast.company_a)[0] == (
        1,
        "Alpha mission: shops sell more",
        "Alpha vision",
        [{"name": "Candour", "description": "Say it."}],
    )
    assert IdentityVersion.objects.get(company=cast.company_a, number=1).author == cast.owner_a


def test_versions_of_each_company_are_numbered_separately(cast, client_for):
    client_for(cast.owner_a).put(IDENTITY, NEW_IDENTITY)

    response = client_for(cast.owner_b).get("/api/v1/companies/bravo/identity/")

    assert response.json()["number"] == 1
    assert response.json()["mission"] == "Bravo mission: shops sell more"


# --- rules on values ----------------------------------------------------------------
@pytest.mark.parametrize(("first", "second"), [("Candour", "Candour"), ("Candour", "CANDOUR"), ("Straße", "STRASSE")])
def test_duplicate_value_names_are_refused_case_insensitively(cast, client_for, first, second):
    body = {**NEW_IDENTITY, "values": [{"name": first}, {"name": second}]}

    response = client_for(cast.owner_a).put(IDENTITY, body)

    assert_invalid(response, "values")
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


def test_twenty_values_are_allowed(cast, client_for):
    body = {**NEW_IDENTITY, "values": [{"name": f"Value {i}"} for i in range(20)]}

    response = client_for(cast.owner_a).put(IDENTITY, body)

    assert response.status_code == 200, response.content
    assert len(response.json()["values"]) == 20


def test_more_than_twenty_values_are_refused(cast, client_for):
    body = {**NEW_IDENTITY, "values": [{"name": f"Value {i}"} for i in range(21)]}

    response = client_for(cast.owner_a).put(IDENTITY, body)

    assert_invalid(response, "values")
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


def test_value_without_name_is_refused_with_a_dotted_field_path(cast, client_for):
    body = {**NEW_IDENTITY, "values": [{"name": "Candour"}, {"description": "Nameless"}]}

    response = client_for(cast.owner_a).put(IDENTITY, body)

    assert_invalid(response, "values.1.name")
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


def test_value_with_blank_name_is_refused(cast, client_for):
    body = {**NEW_IDENTITY, "values": [{"name": "   ", "description": "Blank"}]}

    response = client_for(cast.owner_a).put(IDENTITY, body)

    assert_invalid(response, "values.0.name")


def test_value_with_a_misspelt_key_is_refused(cast, client_for):
    body = {**NEW_IDENTITY, "values": [{"name": "Courage", "descripton": "Say it."}]}

    response = client_for(cast.owner_a).put(IDENTITY, body)

    assert_invalid(response, "values.0.descripton")
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


# --- who writes ---------------------------------------------------------------------
@pytest.mark.parametrize("role", ["member", "viewer"])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_members_and_viewers_cannot_write_and_nothing_changes(cast, client_for, role, method):
    client = client_for(cast.by_role_a[role])

    response = getattr(client, method)(IDENTITY, NEW_IDENTITY)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert versions_of(cast.company_a) == [
        (1, "Alpha mission: shops sell more", "Alpha vision", [{"name": "Candour", "description": "Say it."}])
    ]


def test_a_write_key_acts_as_a_member_and_cannot_write(cast, key_client):
    response = key_client(cast.raw_key_a).put(IDENTITY, NEW_IDENTITY)

    assert response.status_code == 403
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


def test_a_write_key_can_read_the_identity(cast, key_client):
    response = key_client(cast.raw_key_a).get(IDENTITY)

    assert response.status_code == 200
    assert response.json()["number"] == 1


def test_an_identity_written_with_an_api_key_records_its_prefix(cast):
    issued = api_key_create(company=cast.company_a, name="Strategy sync", scope=APIKeyScope.WRITE, created_by=None)

    version = identity_update(
        company=cast.company_a,
        mission="Synced mission",
        vision="Synced vision",
        values=[],
        change_note="From the strategy tool.",
        api_key=issued.api_key,
    )

    version.refresh_from_db()
    assert version.number == 2
    assert version.author is None
    assert version.author_api_key_prefix == issued.api_key.prefix
    assert version.author_api_key_prefix.startswith("okr_")
    assert issued.raw.startswith(version.author_api_key_prefix)


def test_the_key_prefix_of_a_version_is_shown_in_the_api(cast, client_for):
    issued = api_key_create(company=cast.company_a, name="Strategy sync", scope=APIKeyScope.WRITE, created_by=None)
    identity_update(company=cast.company_a, mission="M", vision="V", values=[], api_key=issued.api_key)

    body = client_for(cast.viewer_a).get(IDENTITY).json()

    assert body["number"] == 2
    assert body["author"] is None
    assert body["author_api_key_prefix"] == issued.api_key.prefix


def test_patch_value_without_name_is_refused_with_a_dotted_field_path(cast, client_for):
    client = client_for(cast.owner_a)
    client.raise_request_exception = False

    response = client.patch(IDENTITY, {"values": [{"description": "Nameless"}]})

    assert_invalid(response, "values.0.name")
    assert IdentityVersion.objects.filter(company=cast.company_a).count() == 1


def test_patch_with_an_empty_body_on_a_company_without_identity_names_every_missing_field(db, client_for):
    company = CompanyFactory(slug="delta")
    owner = UserFactory()
    MembershipFactory(user=owner, company=company, role=Role.OWNER)

    response = client_for(owner).patch("/api/v1/companies/delta/identity/", {})

    assert_invalid(response, "mission", "vision", "values")

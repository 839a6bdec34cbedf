"""The admin site: every registered model's pages load, filters and search work, and secrets stay hidden."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from okrs.models import CheckIn
from outcomes.admin import BoundedCountPaginator
from outcomes.models import APIKey, Measurement, Membership, TeamMembership, User
from outcomes.services.api_keys import MAX_LIFETIME, api_key_revoke

REGISTERED = sorted(model._meta.label for model in admin.site._registry)


def _result(cast):
    from epics.models import ActualResult
    from epics.services import result_record

    existing = ActualResult.objects.filter(review__epic=cast.strategic_a["done_epic"]).first()
    if existing:
        return existing
    metric = cast.strategic_a["done_epic_metric"]
    return result_record(
        epic=cast.strategic_a["done_epic"], metrics=[{"metric": metric, "value": 64}], recorded_by=None
    )[0]


def _preference(cast):
    from integrations.models import NotificationPreference

    return NotificationPreference.objects.get_or_create(company=cast.company_a, user=cast.member_a)[0]


def _snooze(cast):
    from integrations.models import ReminderSnooze

    until = timezone.now() + timedelta(days=7)
    return ReminderSnooze.objects.get_or_create(
        company=cast.company_a,
        recipient=cast.member_a,
        subject=cast.strategic_a["reminder"].subject,
        defaults={"until": until},
    )[0]


ADDED_ONLY_THROUGH_THE_API = {
    "epics.StatusChange",  # history, added by status moves
    "integrations.SyncRun",  # records of what a sync did
    "integrations.WebhookDelivery",  # records of what a tracker sent
    "epics.ActualResult",  # recorded through the API; corrections are new revisions
    "epics.MetricResult",
    "outcomes.APIKey",  # the API is the only place a key is shown, once
    "outcomes.IdentityVersion",  # versions are history: each change through the API adds one
    "integrations.Reminder",  # records of what was planned and sent
    "integrations.OutboundDelivery",
    "integrations.WebhookEndpoint",  # their secrets are taken and shown through the API only
    "integrations.SlackWebhook",
}


def _model(label: str) -> type[Model]:
    return next(model for model in admin.site._registry if model._meta.label == label)


def _url(model: type[Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def objects(cast) -> dict[str, tuple[Model, str]]:
    """One existing object per registered model, and a search term that finds it."""
    rows = cast.strategic_a
    return {
        "auth.Group": (Group.objects.create(name="Auditors"), "Auditors"),
        "outcomes.User": (cast.owner_a, "owner.alpha"),
        "outcomes.Company": (cast.company_a, "Alpha"),
        "outcomes.Membership": (Membership.objects.get(user=cast.owner_a, company=cast.company_a), "owner.alpha"),
        "outcomes.Team": (cast.team_a, "Checkout"),
        "outcomes.TeamMembership": (TeamMembership.objects.get(team=cast.team_a, user=cast.member_a), "Checkout"),
        "outcomes.APIKey": (APIKey.objects.get(company=cast.company_a), "Alpha CI"),
        "outcomes.IdentityVersion": (rows["identity"], "Alpha mission"),
        "outcomes.SwotItem": (rows["swot"], "Alpha rival"),
        "outcomes.Strategy": (rows["strategy"], "one-click"),
        "outcomes.Investment": (rows["investment"], "Alpha one-click"),
        "outcomes.BusinessOutcome": (rows["outcome"], "Alpha conversion"),
        "outcomes.Measurement": (Measurement.objects.get(business_outcome=rows["outcome"]), "Alpha conversion"),
        "okrs.Cycle": (rows["cycle"], "Alpha 2026 Q4"),
        "okrs.Objective": (rows["objective"], "mid-size shops"),
        "okrs.KeyResult": (rows["key_result"], "Alpha conversion to 70"),
        "okrs.CheckIn": (CheckIn.objects.get(key_result=rows["key_result"]), "Alpha conversion to 70"),
        "epics.Epic": (rows["epic"], "one-click pay"),
        "integrations.Connection": (rows["connection"], "Alpha Jira"),
        "integrations.SyncRun": (rows["sync_run"], "Alpha Jira"),
        "integrations.WebhookDelivery": (rows["webhook_delivery"], "alpha-delivery-1"),
        "integrations.Reminder": (rows["reminder"], "member.alpha"),
        "integrations.OutboundDelivery": (rows["outbound_delivery"], "hooks.alpha"),
        "integrations.WebhookEndpoint": (rows["webhook_endpoint"], "data warehouse"),
        "integrations.SlackWebhook": (rows["slack_webhook"], "…XXXX"),
        "integrations.NotificationPreference": (_preference(cast), "member.alpha"),
        "integrations.ReminderSnooze": (_snooze(cast), "member.alpha"),
        "epics.AnticipatedOutcome": (rows["epic"].anticipated_outcome, "one-click pay"),
        "epics.SuccessMetric": (rows["done_epic_metric"], "Checkout conversion"),
        "epics.Contribution": (rows["epic"].contributions.get(), "one-click pay"),
        "epics.StatusChange": (rows["epic"].status_changes.first(), "Alpha one-click pay"),
        "epics.OutcomeReview": (rows["done_epic"].reviews.get(), "saved cards"),
        "epics.ActualResult": (_result(cast), "saved cards"),
        "epics.MetricResult": (_result(cast).metric_results.get(), "saved cards"),
    }


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root@example.test", "a-long-admin-password"))
    return client


def test_every_registered_model_has_an_object_in_these_tests(objects):
    # A newly registered model fails here until it gets an object (and so the page tests below).
    assert sorted(objects) == REGISTERED


@pytest.mark.parametrize("label", REGISTERED)
def test_changelist_loads_and_lists_the_object(superuser_client, objects, label):
    model = _model(label)
    obj, _ = objects[label]

    response = superuser_client.get(_url(model, "changelist"))

    assert response.status_code == 200
    assert obj.pk in [row.pk for row in response.context["cl"].result_list]


@pytest.mark.parametrize("label", REGISTERED)
def test_changelist_search_finds_the_object(superuser_client, objects, label):
    model = _model(label)
    obj, term = objects[label]

    found = superuser_client.get(_url(model, "changelist") + "?" + urlencode({"q": term}))
    nothing = superuser_client.get(_url(model, "changelist") + "?" + urlencode({"q": "no-such-thing-anywhere"}))

    assert found.status_code == 200
    assert obj.pk in [row.pk for row in found.context["cl"].result_list]
    assert nothing.status_code == 200
    assert list(nothing.context["cl"].result_list) == []


@pytest.mark.parametrize("label", REGISTERED)
def test_every_list_filter_choice_loads(superuser_client, objects, label):
    model = _model(label)
    url = _url(model, "changelist")
    changelist = superuser_client.get(url).context["cl"]
    checked = 0

    for spec in changelist.filter_specs:
        choices = [choice for choice in spec.choices(changelist) if not choice["selected"]]
        assert choices, f"{label}: filter {spec.title!r} offers no choice"
        query_string = choices[0]["query_string"]

        response = superuser_client.get(url + query_string)

        # An invalid lookup would redirect to ?e=1 instead.
        assert response.status_code == 200, f"{label}: filter {spec.title!r} {query_string}"
        assert response.context["cl"].has_active_filters
        checked += 1

    assert checked == len(admin.site._registry[model].list_filter)


# Tables that grow with every sync, delivery, check-in and reminder: their changelists never count them.
GROWING = [
    "epics.ActualResult",
    "epics.Contribution",
    "epics.Epic",
    "epics.MetricResult",
    "epics.OutcomeReview",
    "epics.StatusChange",
    "integrations.OutboundDelivery",
    "integrations.Reminder",
    "integrations.SyncRun",
    "integrations.WebhookDelivery",
    "okrs.CheckIn",
]


def test_the_tables_that_grow_with_activity_have_a_bounded_count():
    bounded = [label for label in REGISTERED if admin.site._registry[_model(label)].paginator is BoundedCountPaginator]

    assert bounded == GROWING


@pytest.mark.parametrize("label", GROWING)
def test_a_growing_table_is_listed_searched_and_filtered_without_a_count(superuser_client, objects, label):
    model = _model(label)
    url = _url(model, "changelist")
    obj, term = objects[label]
    changelist = superuser_client.get(url).context["cl"]
    filtered = [choice["query_string"] for spec in changelist.filter_specs for choice in spec.choices(changelist)]

    for query in ["", "?" + urlencode({"q": term}), *filtered[1:3], "?_facets=True"]:
        with CaptureQueriesContext(connection) as queries:
            response = superuser_client.get(url + query)
        assert response.status_code == 200, query
        assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()], query
    assert obj.pk in [row.pk for row in superuser_client.get(url).context["cl"].result_list]


def test_past_the_cap_the_changelist_says_so_and_pages_up_to_it(superuser_client, cast, monkeypatch):
    from epics.admin import EpicAdmin
    from epics.models import Epic

    for i in range(5):
        Epic.objects.create(company=cast.company_a, title=f"Capped {i}", owner=cast.member_a)
    monkeypatch.setattr(BoundedCountPaginator, "cap", 4)
    monkeypatch.setattr(EpicAdmin, "list_per_page", 2)
    url = _url(Epic, "changelist")

    first = superuser_client.get(url)
    last = superuser_client.get(url, {"p": 2})
    beyond = superuser_client.get(url, {"p": 3})
    few = superuser_client.get(url, {"q": "Capped 3"})

    assert first.context["cl"].result_count == 4 and first.context["cl"].paginator.capped
    assert "4+ epics" in first.content.decode()
    assert len(last.context["cl"].result_list) == 2
    assert beyond.status_code == 302 and "e=1" in beyond.url  # Django's answer to a page out of range
    assert few.context["cl"].result_count == 1 and not few.context["cl"].paginator.capped
    assert "1 epic\n" in few.content.decode()


def test_other_changelists_still_count_exactly(superuser_client, objects):
    response = superuser_client.get(_url(_model("okrs.Cycle"), "changelist"))

    assert response.context["cl"].result_count == response.context["cl"].full_result_count >= 1
    assert f"{response.context['cl'].result_count} cycle" in response.content.decode()


@pytest.mark.parametrize("label", REGISTERED)
def test_add_page_loads_where_adding_is_allowed(superuser_client, label):
    model = _model(label)

    response = superuser_client.get(_url(model, "add"))

    if label in ADDED_ONLY_THROUGH_THE_API:
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert response.context["add"] is True


@pytest.mark.parametrize("label", REGISTERED)
def test_change_and_history_pages_load(superuser_client, objects, label):
    model = _model(label)
    obj, _ = objects[label]

    change = superuser_client.get(_url(model, "change", obj.pk))
    history = superuser_client.get(_url(model, "history", obj.pk))

    assert change.status_code == 200
    assert change.context["original"] == obj
    assert history.status_code == 200
    assert history.context["object"] == obj


def test_user_history_lists_the_changes(superuser_client, cast):
    cast.member_a.full_name = "Renamed Member"
    cast.member_a.save()

    response = superuser_client.get(_url(User, "history", cast.member_a.pk))

    assert response.status_code == 200
    records = list(response.context["page_obj"].object_list)
    assert [record.full_name for record in records][:2] == ["Renamed Member", "Alpha Member"]
    assert records[0].history_type == "~"


def test_api_key_pages_never_show_the_digest(superuser_client, cast):
    api_key = APIKey.objects.get(company=cast.company_a)
    history_id = api_key.history.latest().history_id
    pages = {
        "changelist": _url(APIKey, "changelist"),
        "change": _url(APIKey, "change", api_key.pk),
        "history": _url(APIKey, "history", api_key.pk),
        "historic version": _url(APIKey, "simple_history", api_key.pk, history_id),
        "search": _url(APIKey, "changelist") + "?" + urlencode({"q": api_key.key_id}),
    }

    for name, url in pages.items():
        response = superuser_client.get(url)
        assert response.status_code == 200, name
        content = response.content.decode()
        assert api_key.digest not in content, name
        assert cast.raw_key_a not in content, name

    change = superuser_client.get(pages["change"])
    assert "digest" not in change.context["adminform"].form.fields
    assert api_key.prefix in change.content.decode()


def _expiry_fields(api_key: APIKey) -> dict[str, str]:
    """The change form's split date/time inputs for the key's current expiry (the admin shows UTC)."""
    assert api_key.expires_at is not None
    return {
        "expires_at_0": api_key.expires_at.strftime("%Y-%m-%d"),
        "expires_at_1": api_key.expires_at.strftime("%H:%M:%S"),
        "revoked_at_0": "",
        "revoked_at_1": "",
    }


def test_api_key_cannot_be_given_a_digest_through_the_change_form(superuser_client, cast):
    api_key = APIKey.objects.get(company=cast.company_a)
    digest_before = api_key.digest

    response = superuser_client.post(
        _url(APIKey, "change", api_key.pk),
        {"name": "Renamed CI", **_expiry_fields(api_key), "digest": "0" * 64, "key_id": "forged"},
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.name == "Renamed CI"
    assert api_key.digest == digest_before
    assert api_key.key_id != "forged"


@pytest.mark.parametrize("label", REGISTERED)
def test_staff_without_permissions_is_refused(db, objects, label):
    staff = User.objects.create_user("staff@example.test", "a-long-staff-password", is_staff=True)
    client = Client()
    client.force_login(staff)
    model = _model(label)
    obj, _ = objects[label]

    assert client.get(_url(model, "changelist")).status_code == 403
    assert client.get(_url(model, "change", obj.pk)).status_code == 403


def test_people_who_are_not_staff_are_sent_to_the_login_page(cast):
    client = Client()
    client.force_login(cast.owner_a)

    response = client.get(_url(APIKey, "changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_revoked_key_cannot_be_revived_in_the_admin(superuser_client, cast, key_client):
    api_key = APIKey.objects.get(company=cast.company_a)
    api_key_revoke(api_key=api_key, revoked_by=cast.owner_a)
    revoked_at = APIKey.objects.get(pk=api_key.pk).revoked_at

    superuser_client.post(_url(APIKey, "change", api_key.pk), {"name": api_key.name, **_expiry_fields(api_key)})

    api_key.refresh_from_db()
    assert api_key.revoked_at == revoked_at
    assert key_client(cast.raw_key_a).get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize(("date", "time"), [("2099-01-01", "00:00:00"), ("", "")])
def test_admin_cannot_extend_a_key_past_the_maximum_lifetime(superuser_client, cast, date, time):
    api_key = APIKey.objects.get(company=cast.company_a)
    expires_before = api_key.expires_at

    superuser_client.post(
        _url(APIKey, "change", api_key.pk),
        {**_expiry_fields(api_key), "name": api_key.name, "expires_at_0": date, "expires_at_1": time},
    )

    api_key.refresh_from_db()
    assert api_key.expires_at is not None
    assert api_key.expires_at <= timezone.now() + MAX_LIFETIME
    assert api_key.expires_at == expires_before


def test_identity_versions_are_read_only_in_the_admin(superuser_client, objects):
    version, _ = objects["outcomes.IdentityVersion"]
    page = superuser_client.get(_url(type(version), "change", version.pk))
    posted = superuser_client.post(_url(type(version), "change", version.pk), {"mission": "Rewritten"})
    deleted = superuser_client.post(_url(type(version), "delete", version.pk), {"post": "yes"})

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert posted.status_code == 403
    assert deleted.status_code == 403
    version.refresh_from_db()
    assert version.mission == "Alpha mission: shops sell more"

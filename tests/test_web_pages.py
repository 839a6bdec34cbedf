"""The server-rendered web pages through Django's test client.

Every page renders for a member of the company with its key content; signed-out visitors are sent
to sign in; other companies' people and unknown ids get 404, never 500; viewers read but never
write; the forms write through the domain services and show what was wrong, with nothing written;
htmx requests get the partial; sign-in is throttled; every page reads a fixed number of queries;
and the reminders link to the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from epics.models import ActualResult, AnticipatedOutcome, Epic, MetricResult, OutcomeReview, SuccessMetric
from epics.services import (
    anticipated_outcome_set,
    contribution_set,
    epic_create,
    epic_transition,
    epic_update,
    result_record,
)
from integrations.choices import ReminderKind
from integrations.messages import check_in_notice, executive_digest, member_digest, notice_for
from integrations.models import Reminder
from integrations.reminders import dispatch_reminders
from okrs.models import CheckIn, KeyResult, Objective
from okrs.services import check_in_record, key_result_create, objective_create
from outcomes.choices import Role
from outcomes.models import Company, Team, User
from outcomes.services.teams import team_create
from tests.conftest import CONVERSION_METRIC, Cast
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # every factory-made person's password
MAX_QUERIES = 30


# --- helpers ---------------------------------------------------------------------------------
def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _url(name: str, company: Company, pk: int | None = None) -> str:
    kwargs: dict[str, Any] = {"company_slug": company.slug}
    if pk is not None:
        kwargs["pk"] = pk
    return reverse(f"web:{name}", kwargs=kwargs)


def _pages(cast: Cast, company: Company | None = None) -> dict[str, str]:
    """Every company page of company A (under ``company``'s slug when given: A's ids under another slug)."""
    under = company or cast.company_a
    rows = cast.strategic_a
    return {
        "rollup": _url("rollup", under),
        "objective": _url("objective", under, rows["objective"].pk),
        "team objective": _url("objective", under, rows["team_objective"].pk),
        "key result": _url("key-result", under, rows["key_result"].pk),
        "epic": _url("epic", under, rows["epic"].pk),
        "delivered epic": _url("epic", under, rows["done_epic"].pk),
        "outcome form": _url("epic-outcome", under, rows["epic"].pk),
        "result form": _url("epic-result", under, rows["done_epic"].pk),
        "my work": _url("my-work", under),
        "insights": _url("insights", under),
    }


OBJECT_PAGES = ["objective", "team objective", "key result", "epic", "delivered epic", "outcome form", "result form"]


def _text(response: Any) -> str:
    return response.content.decode()


def _delivered(
    cast: Cast,
    title: str,
    *,
    owner: User | None = None,
    team: Team | None = None,
    key_results: tuple[KeyResult, ...] = (),
    due: bool = False,
) -> Epic:
    """An epic of company A with an anticipated outcome, delivered now; with ``due``, its review is due."""
    owner = owner or cast.member_a
    epic = epic_create(company=cast.company_a, title=title, owner=owner, team=team, actor=owner)
    anticipated_outcome_set(
        epic=epic,
        problem=f"{title}: carts are lost at payment.",
        expected_results="More orders.",
        metrics=[CONVERSION_METRIC],
    )
    for key_result in key_results:
        contribution_set(epic=epic, key_result=key_result)
    epic_transition(epic=epic, to_status="in_progress", actor=owner)
    epic_transition(epic=epic, to_status="done", actor=owner)
    if due:
        OutcomeReview.objects.filter(epic=epic, state="pending").update(due_at=timezone.now() - timedelta(days=1))
    epic.refresh_from_db()
    return epic


def _metric_of(epic: Epic) -> SuccessMetric:
    """The epic's only success metric."""
    return SuccessMetric.objects.get(anticipated_outcome__epic=epic)


def _outcome_post(**metric: Any) -> dict[str, str]:
    """The anticipated outcome form as a browser posts it: the questions and one metric row."""
    row = {
        "name": "Checkout conversion",
        "unit": "%",
        "direction": "increase",
        "baseline": "61.5",
        "target": "66",
        "data_source": "BI funnel",
        "window_days": "30",
        **metric,
    }
    return {
        "problem": "Shoppers abandon the cart at the payment step.",
        "expected_results": "Conversion rises to 66 %, measured in the BI funnel.",
        "learning_plan": "Read the funnel after 30 days.",
        "metrics-TOTAL_FORMS": "1",
        "metrics-INITIAL_FORMS": "0",
        "metrics-MIN_NUM_FORMS": "1",
        "metrics-MAX_NUM_FORMS": "1000",
        **{f"metrics-0-{name}": str(value) for name, value in row.items()},
    }


# --- every page renders ---------------------------------------------------------------------
def test_every_page_shows_its_content_to_a_member(cast: Cast) -> None:
    rows = cast.strategic_a
    client = _client(cast.member_a)
    pages = _pages(cast)
    expected = {
        "rollup": [
            rows["objective"].title,
            rows["team_objective"].title,
            rows["key_result"].title,
            rows["epic"].title,
            rows["done_epic"].title,
            'role="meter"',
        ],
        "objective": [rows["objective"].title, rows["team_objective"].title, rows["strategy"].title],
        "team objective": [rows["team_objective"].title, rows["key_result"].title, rows["epic"].title, "<canvas"],
        "key result": [rows["key_result"].title, rows["epic"].title, rows["done_epic"].title, "64", "Post a check-in"],
        "epic": [
            rows["epic"].title,
            "Carts are lost at payment.",
            "More orders.",
            "Checkout conversion",
            "61.5",
            rows["key_result"].title,
            rows["objective"].title,
            "Change the anticipated outcome",
        ],
        "delivered epic": [rows["done_epic"].title, "Carts are lost at payment.", "Record the result", "due "],
        "outcome form": ["Carts are lost at payment.", 'name="metrics-TOTAL_FORMS"', "Checkout conversion"],
        "result form": [rows["done_epic"].title, "Checkout conversion (%)", "Baseline 61.5, target 66"],
        "my work": ["My work", "Results to record", "Check-ins due"],
        "insights": ["Realisation", "Outcome debt", 'data-chart="chart-realisation-data"', cast.team_a.name],
    }
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("text/html")
        text = _text(response)
        assert "<html" in text and "<title>" in text, name
        for content in expected[name]:
            assert content in text, f"{name}: {content!r} missing"
        assert "Bravo" not in text, name


def test_home_goes_straight_to_the_only_company_or_lists_several(cast: Cast) -> None:
    response = _client(cast.member_a).get(reverse("web:home"))
    assert response.status_code == 302 and response["Location"] == _url("rollup", cast.company_a)

    followed = _client(cast.member_a).get(reverse("web:home"), follow=True)
    assert followed.status_code == 200 and cast.strategic_a["objective"].title in _text(followed)

    MembershipFactory(user=cast.member_a, company=cast.company_b, role=Role.VIEWER)
    both = _client(cast.member_a).get(reverse("web:home"))
    assert both.status_code == 200
    assert cast.company_a.name in _text(both) and cast.company_b.name in _text(both)
    assert _url("rollup", cast.company_b) in _text(both)


def test_my_work_lists_what_the_member_owes(cast: Cast) -> None:
    rows = cast.strategic_a
    OutcomeReview.objects.filter(epic=rows["done_epic"], state="pending").update(
        due_at=timezone.now() - timedelta(days=2)
    )
    KeyResult.objects.filter(pk=rows["key_result"].pk).update(next_checkin_due=timezone.now())
    started = epic_create(company=cast.company_a, title="Guest checkout", owner=cast.member_a, actor=cast.member_a)
    epic_transition(epic=started, to_status="in_progress", source="sync")
    epic_create(company=cast.company_a, title="Express checkout", owner=cast.member_a, actor=cast.member_a)

    text = _text(_client(cast.member_a).get(_url("my-work", cast.company_a)))

    assert f"Record the result of {rows['done_epic'].title}" in text
    assert f'href="{_url("epic-result", cast.company_a, rows["done_epic"].pk)}"' in text
    assert "Register the anticipated outcome of Guest checkout" in text
    assert "Register the anticipated outcome of Express checkout" in text
    assert f"Check in on {rows['key_result'].title}" in text
    assert "Results to record (1)" in text and "Check-ins due (1)" in text
    # The owner of the company owns none of it.
    theirs = _text(_client(cast.owner_a).get(_url("my-work", cast.company_a)))
    assert "Nothing to record." in theirs and "Guest checkout" not in theirs


def test_a_recorded_result_shows_on_the_epic_and_in_the_rollup(cast: Cast) -> None:
    rows = cast.strategic_a
    done = rows["done_epic"]
    result_record(
        epic=done, metrics=[{"metric": rows["done_epic_metric"], "value": Decimal(66)}], recorded_by=cast.member_a
    )
    client = _client(cast.member_a)

    epic_page = _text(client.get(_url("epic", cast.company_a, done.pk)))
    rollup = _text(client.get(_url("rollup", cast.company_a)))

    assert 'class="tag verdict-achieved">achieved</span>' in epic_page
    assert "Record a new revision" in epic_page and "revision 1" in epic_page
    assert "delivered 1, recorded 1, achieved 100 %" in " ".join(rollup.split())


# --- signed out, other companies, unknown ids ---------------------------------------------------
def test_signed_out_visitors_are_sent_to_sign_in(cast: Cast) -> None:
    client = _client(None)
    for name, url in {"home": reverse("web:home"), **_pages(cast)}.items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"] == f"/accounts/login/?next={quote(url)}", name
    before = CheckIn.objects.count()
    response = client.post(_pages(cast)["key result"], {"value": "66"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert CheckIn.objects.count() == before


def test_the_login_page_renders_and_keeps_next(cast: Cast) -> None:
    response = _client(None).get("/accounts/login/?next=/c/alpha/insights/")
    text = _text(response)
    assert response.status_code == 200
    assert 'name="username"' in text and 'name="password"' in text and 'value="/c/alpha/insights/"' in text

    signed_in = _client(None).post(
        "/accounts/login/",
        {"username": cast.member_a.email, "password": PASSWORD, "next": "/c/alpha/insights/"},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/c/alpha/insights/"


def test_another_companys_people_get_404_for_every_page(cast: Cast) -> None:
    client = _client(cast.member_b)
    for name, url in _pages(cast).items():
        assert client.get(url).status_code == 404, name
    # A's ids under B's own slug are not found either.
    for name, url in _pages(cast, cast.company_b).items():
        if name in OBJECT_PAGES:
            response = client.get(url)
            assert response.status_code == 404, name
            assert cast.company_a.name not in _text(response)
    # B's ids under B's slug work: the 404s above are about A's rows, not the pages.
    own_epic = cast.strategic_b["epic"]
    assert client.get(_url("epic", cast.company_b, own_epic.pk)).status_code == 200


def test_another_companys_people_cannot_write_to_a(cast: Cast) -> None:
    rows = cast.strategic_a
    client = _client(cast.owner_b)
    before = (CheckIn.objects.count(), ActualResult.objects.count(), AnticipatedOutcome.objects.count())
    for company in (cast.company_a, cast.company_b):
        pages = _pages(cast, company)
        assert client.post(pages["key result"], {"value": "66"}).status_code == 404
        assert client.post(pages["outcome form"], _outcome_post()).status_code == 404
        metric = rows["done_epic_metric"]
        assert client.post(pages["result form"], {f"value_{metric.pk}": "66"}).status_code == 404
    after = (CheckIn.objects.count(), ActualResult.objects.count(), AnticipatedOutcome.objects.count())
    assert after == before


@pytest.mark.parametrize("pk", [999_999, 2**63, 10**30])
def test_unknown_ids_are_404_not_500(cast: Cast, pk: int) -> None:
    client = _client(cast.owner_a)
    for name in ("objective", "key-result", "epic", "epic-outcome", "epic-result"):
        assert client.get(_url(name, cast.company_a, pk)).status_code == 404, name
    assert client.post(_url("key-result", cast.company_a, pk), {"value": "1"}).status_code == 404


def test_unknown_companies_and_bad_filters_are_not_errors(cast: Cast) -> None:
    client = _client(cast.owner_a)
    assert client.get("/c/no-such-company/").status_code == 404
    assert client.get("/c/no-such-company/insights/").status_code == 404
    rollup = _url("rollup", cast.company_a)
    insights = _url("insights", cast.company_a)
    for query in ("?cycle=abc&team=xyz", "?cycle=999999&team=999999", f"?team={cast.team_b.pk}"):
        assert client.get(rollup + query).status_code == 200, query
        assert client.get(insights + query).status_code == 200, query
    # Another company's team is no filter at all: A's objectives stay listed.
    assert cast.strategic_a["team_objective"].title in _text(client.get(rollup + f"?team={cast.team_b.pk}"))


# --- roles -----------------------------------------------------------------------------------
def test_a_viewer_reads_every_page_but_sees_no_forms(cast: Cast) -> None:
    client = _client(cast.viewer_a)
    pages = _pages(cast)
    for name in ("rollup", "objective", "team objective", "key result", "epic", "delivered epic", "my work"):
        response = client.get(pages[name])
        assert response.status_code == 200, name
        text = _text(response)
        # The only form a viewer gets is the one that signs them out.
        assert text.count("<form") - text.count('class="filters"') == 1, name
        for action in ("Check in</button>", "Register the anticipated outcome", "Change the anticipated", "Record"):
            assert action not in text, f"{name}: {action}"
    assert client.get(pages["insights"]).status_code == 200
    assert client.get(pages["outcome form"]).status_code == 403
    assert client.get(pages["result form"]).status_code == 403


def test_a_viewer_may_not_post_anything(cast: Cast) -> None:
    rows = cast.strategic_a
    client = _client(cast.viewer_a)
    pages = _pages(cast)
    metric = rows["done_epic_metric"]
    problem = AnticipatedOutcome.objects.get(epic=rows["epic"]).problem
    before = (CheckIn.objects.count(), ActualResult.objects.count())

    assert client.post(pages["key result"], {"value": "66", "confidence": "0.7"}).status_code == 403
    assert client.post(pages["outcome form"], _outcome_post()).status_code == 403
    assert client.post(pages["result form"], {f"value_{metric.pk}": "66"}).status_code == 403

    assert (CheckIn.objects.count(), ActualResult.objects.count()) == before
    assert AnticipatedOutcome.objects.get(epic=rows["epic"]).problem == problem


def test_a_member_records_results_only_for_epics_they_own_or_review(cast: Cast) -> None:
    theirs = _delivered(cast, "Owner's loyalty points", owner=cast.owner_a)
    metric = _metric_of(theirs)
    member = _client(cast.member_a)
    epic_page, result_form = _url("epic", cast.company_a, theirs.pk), _url("epic-result", cast.company_a, theirs.pk)

    page = _text(member.get(epic_page))
    assert "Record the result" not in page and "the anticipated outcome</a>" not in page
    assert member.get(result_form).status_code == 403
    assert member.post(result_form, {f"value_{metric.pk}": "66"}).status_code == 403
    assert not ActualResult.objects.filter(review__epic=theirs).exists()

    epic_update(epic=theirs, reviewer=cast.member_a)
    assert "Record the result" in _text(member.get(epic_page))
    assert member.post(result_form, {f"value_{metric.pk}": "66"}).status_code == 302
    assert ActualResult.objects.get(review__epic=theirs).recorded_by == cast.member_a


@pytest.mark.parametrize(("role", "allowed"), [("owner", True), ("admin", True), ("executive", False)])
def test_owners_and_admins_record_any_epics_result(cast: Cast, role: str, allowed: bool) -> None:
    done = cast.strategic_a["done_epic"]
    person = cast.by_role_a[role]
    metric = cast.strategic_a["done_epic_metric"]

    response = _client(person).post(_url("epic-result", cast.company_a, done.pk), {f"value_{metric.pk}": "66"})

    if allowed:
        assert response.status_code == 302
        assert ActualResult.objects.get(review__epic=done).recorded_by == person
    else:  # executives write epics but close the loop only on their own
        assert response.status_code == 403
        assert not ActualResult.objects.filter(review__epic=done).exists()


def test_a_member_checks_in_only_on_key_results_they_may_write(cast: Cast) -> None:
    stranger = UserFactory(email="stranger.alpha@example.test")
    MembershipFactory(user=stranger, company=cast.company_a, role=Role.MEMBER)
    url = _pages(cast)["key result"]
    before = CheckIn.objects.count()

    assert _client(stranger).post(url, {"value": "66"}).status_code == 403
    assert CheckIn.objects.count() == before
    assert _client(cast.owner_a).post(url, {"value": "66"}).status_code == 302


# --- forms -----------------------------------------------------------------------------------
def test_a_check_in_is_recorded_with_its_author(cast: Cast) -> None:
    key_result = cast.strategic_a["key_result"]
    url = _pages(cast)["key result"]
    client = _client(cast.member_a)

    response = client.post(url, {"value": "67.5", "confidence": "0.8", "comment": "Saved cards shipped."})

    assert response.status_code == 302 and response["Location"] == url
    check_in = CheckIn.objects.filter(key_result=key_result).latest("id")
    assert (check_in.value, check_in.confidence, check_in.author, check_in.source) == (
        Decimal("67.5"),
        Decimal("0.8"),
        cast.member_a,
        "manual",
    )
    assert check_in.comment == "Saved cards shipped."
    page = _text(client.get(url))
    assert "Check-in recorded." in page and "Saved cards shipped." in page and "67.5" in page
    key_result.refresh_from_db()
    assert key_result.current_value == Decimal("67.5")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"value": "lots"}, "value", "Enter a number."),
        ({"value": ""}, "value", "This field is required."),
        ({"value": "66", "confidence": "2"}, "confidence", "Ensure this value is less than or equal to 1."),
        ({"value": "66", "confidence": "-0.1"}, "confidence", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_a_bad_check_in_is_refused_with_the_error_beside_the_field(
    cast: Cast, data: dict[str, str], field: str, message: str
) -> None:
    before = CheckIn.objects.count()

    response = _client(cast.member_a).post(_pages(cast)["key result"], data)

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message in _text(response) and 'class="field invalid"' in _text(response)
    assert CheckIn.objects.count() == before


def test_the_anticipated_outcome_form_writes_the_outcome_and_its_metrics(cast: Cast) -> None:
    epic = epic_create(company=cast.company_a, title="Guest checkout", owner=cast.member_a, actor=cast.member_a)
    client = _client(cast.member_a)
    url = _url("epic-outcome", cast.company_a, epic.pk)
    form = _text(client.get(url))
    assert 'name="metrics-TOTAL_FORMS"' in form and 'name="metrics-0-target"' in form

    response = client.post(url, _outcome_post(window_days="45"))

    assert response.status_code == 302 and response["Location"] == _url("epic", cast.company_a, epic.pk)
    outcome = AnticipatedOutcome.objects.get(epic=epic)
    assert outcome.problem == "Shoppers abandon the cart at the payment step."
    assert outcome.learning_plan == "Read the funnel after 30 days."
    (metric,) = outcome.metrics.all()
    assert (metric.name, metric.direction, metric.baseline, metric.target, metric.window_days) == (
        "Checkout conversion",
        "increase",
        Decimal("61.5"),
        Decimal(66),
        45,
    )
    page = _text(client.get(_url("epic", cast.company_a, epic.pk)))
    assert "Anticipated outcome saved." in page and "Shoppers abandon the cart" in page


def test_the_outcome_form_takes_several_metrics_and_changes_them(cast: Cast) -> None:
    epic = cast.strategic_a["epic"]
    url = _url("epic-outcome", cast.company_a, epic.pk)
    data = _outcome_post(target="70")
    data |= {
        "metrics-TOTAL_FORMS": "2",
        "metrics-1-name": "Payment errors",
        "metrics-1-unit": "%",
        "metrics-1-direction": "decrease",
        "metrics-1-baseline": "4",
        "metrics-1-target": "1",
        "metrics-1-window_days": "14",
    }

    assert _client(cast.member_a).post(url, data).status_code == 302

    metrics = list(SuccessMetric.objects.filter(anticipated_outcome__epic=epic).order_by("position"))
    assert [(m.name, m.target) for m in metrics] == [("Checkout conversion", Decimal(70)), ("Payment errors", 1)]


def test_changing_the_outcome_offers_an_empty_row_for_another_metric(cast: Cast) -> None:
    """The form promises "each save keeps one empty row ready"; left untouched, the row adds nothing."""
    epic = cast.strategic_a["epic"]
    url = _url("epic-outcome", cast.company_a, epic.pk)
    client = _client(cast.member_a)

    form = _text(client.get(url))

    assert 'name="metrics-1-name"' in form and 'value="2" id="id_metrics-TOTAL_FORMS"' in form
    untouched = {  # what a browser sends for the blank row: the select's first option, the field's initial
        "metrics-1-name": "",
        "metrics-1-unit": "",
        "metrics-1-direction": "increase",
        "metrics-1-baseline": "",
        "metrics-1-target": "",
        "metrics-1-data_source": "",
        "metrics-1-window_days": "30",
    }
    data = {**_outcome_post(), "metrics-TOTAL_FORMS": "2", "metrics-INITIAL_FORMS": "1", **untouched}
    assert client.post(url, data).status_code == 302
    assert SuccessMetric.objects.filter(anticipated_outcome__epic=epic).count() == 1

    filled = {**untouched, "metrics-1-name": "Payment errors", "metrics-1-baseline": "4", "metrics-1-target": "1"}
    filled["metrics-1-direction"] = "decrease"
    assert client.post(url, {**data, **filled}).status_code == 302
    names = SuccessMetric.objects.filter(anticipated_outcome__epic=epic).order_by("position")
    assert [m.name for m in names] == ["Checkout conversion", "Payment errors"]
    assert 'name="metrics-2-name"' in _text(client.get(url))  # and the next empty row


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({"direction": "increase", "baseline": "10", "target": "5"}, "needs a target above its baseline"),
        ({"direction": "decrease", "baseline": "4", "target": "4"}, "needs a target below its baseline"),
    ],
)
def test_a_target_on_the_wrong_side_of_the_baseline_writes_nothing(
    cast: Cast, metric: dict[str, str], message: str
) -> None:
    fresh = epic_create(company=cast.company_a, title="Guest checkout", owner=cast.member_a, actor=cast.member_a)
    written = cast.strategic_a["epic"]  # has an outcome already: a failed change leaves it as it was
    client = _client(cast.member_a)

    for epic in (fresh, written):
        response = client.post(_url("epic-outcome", cast.company_a, epic.pk), _outcome_post(**metric))
        assert response.status_code == 400
        page = _text(response)
        assert message in page and "metrics.0.target" not in page  # said beside the metric's target field
        assert 'id="id_metrics-0-target_error"' in page and 'aria-invalid="true"' in page

    assert not AnticipatedOutcome.objects.filter(epic=fresh).exists()
    assert not SuccessMetric.objects.filter(anticipated_outcome__epic=fresh).exists()
    outcome = AnticipatedOutcome.objects.get(epic=written)
    assert outcome.problem == "Carts are lost at payment."
    assert [(m.baseline, m.target) for m in outcome.metrics.all()] == [(Decimal("61.5"), Decimal(66))]


def test_the_outcome_form_needs_a_metric_and_every_question(cast: Cast) -> None:
    epic = epic_create(company=cast.company_a, title="Guest checkout", owner=cast.member_a, actor=cast.member_a)
    url = _url("epic-outcome", cast.company_a, epic.pk)
    client = _client(cast.member_a)

    no_metric = client.post(url, {**_outcome_post(), "metrics-TOTAL_FORMS": "0"})
    no_problem = client.post(url, {**_outcome_post(), "problem": ""})
    no_target = client.post(url, {**_outcome_post(), "metrics-0-target": ""})

    assert no_metric.status_code == 400 and "At least one success metric." in _text(no_metric)
    assert no_problem.status_code == 400 and "This field is required." in _text(no_problem)
    assert no_target.status_code == 400 and no_target.context["formset"].forms[0].errors["target"]
    assert not AnticipatedOutcome.objects.filter(epic=epic).exists()


def test_a_delivered_epics_outcome_is_frozen(cast: Cast) -> None:
    done = cast.strategic_a["done_epic"]
    response = _client(cast.member_a).post(_url("epic-outcome", cast.company_a, done.pk), _outcome_post())
    assert response.status_code == 400 and "frozen" in _text(response)
    assert AnticipatedOutcome.objects.get(epic=done).problem == "Carts are lost at payment."
    assert "the anticipated outcome</a>" not in _text(_client(cast.member_a).get(_url("epic", cast.company_a, done.pk)))


@pytest.mark.parametrize(
    ("value", "verdict"), [("66", "achieved"), ("64", "partly"), ("60", "missed"), ("", "inconclusive")]
)
def test_the_result_form_records_the_verdict_the_metrics_give(cast: Cast, value: str, verdict: str) -> None:
    done = cast.strategic_a["done_epic"]
    metric = cast.strategic_a["done_epic_metric"]
    client = _client(cast.member_a)

    response = client.post(
        _url("epic-result", cast.company_a, done.pk),
        {
            f"value_{metric.pk}": value,
            f"evidence_{metric.pk}": "https://bi.example.com/funnel" if value else "",
            "learnings": "Saved cards matter.",
            "next_steps": "Roll out to mobile.",
        },
    )

    assert response.status_code == 302 and response["Location"] == _url("epic", cast.company_a, done.pk)
    result = ActualResult.objects.get(review__epic=done)
    assert (result.verdict, result.verdict_override, result.recorded_by) == (verdict, "", cast.member_a)
    assert result.learnings == "Saved cards matter." and result.review.state == "recorded"
    row = MetricResult.objects.get(result=result)
    assert row.value == (Decimal(value) if value else None) and row.verdict == verdict
    page = _text(client.get(_url("epic", cast.company_a, done.pk)))
    assert "Result recorded." in page and f'verdict-{verdict}">{verdict}</span>' in page


def test_a_verdict_override_needs_a_reason(cast: Cast) -> None:
    done = cast.strategic_a["done_epic"]
    metric = cast.strategic_a["done_epic_metric"]
    url = _url("epic-result", cast.company_a, done.pk)
    client = _client(cast.member_a)

    refused = client.post(url, {f"value_{metric.pk}": "60", "verdict_override": "inconclusive"})

    assert refused.status_code == 400
    assert "Say why the verdict differs from the metrics." in _text(refused)
    assert not ActualResult.objects.filter(review__epic=done).exists()

    accepted = client.post(
        url,
        {f"value_{metric.pk}": "60", "verdict_override": "inconclusive", "override_reason": "The funnel broke."},
    )
    assert accepted.status_code == 302
    result = ActualResult.objects.get(review__epic=done)
    assert (result.verdict, result.verdict_override, result.override_reason) == (
        "missed",
        "inconclusive",
        "The funnel broke.",
    )
    assert "metrics said missed: The funnel broke." in _text(client.get(_url("epic", cast.company_a, done.pk)))


def test_bad_result_values_are_shown_and_nothing_is_written(cast: Cast) -> None:
    done = cast.strategic_a["done_epic"]
    metric = cast.strategic_a["done_epic_metric"]

    response = _client(cast.member_a).post(
        _url("epic-result", cast.company_a, done.pk),
        {f"value_{metric.pk}": "sixty", f"evidence_{metric.pk}": "not a link at all"},
    )

    assert response.status_code == 400
    assert "Enter a number." in _text(response) and "Enter a valid URL." in _text(response)
    assert not ActualResult.objects.filter(review__epic=done).exists()


def test_results_are_only_recorded_for_delivered_epics(cast: Cast) -> None:
    epic = cast.strategic_a["epic"]  # in progress
    metric = _metric_of(epic)

    response = _client(cast.member_a).post(_url("epic-result", cast.company_a, epic.pk), {f"value_{metric.pk}": "66"})

    assert response.status_code == 400 and "results are recorded after delivery" in _text(response)
    assert not ActualResult.objects.filter(review__epic=epic).exists()


# --- htmx ------------------------------------------------------------------------------------
def _another_team_objective(cast: Cast) -> Objective:
    growth = team_create(company=cast.company_a, name="Alpha Growth", lead=cast.owner_a, members=[cast.owner_a])
    return objective_create(
        company=cast.company_a,
        cycle=cast.strategic_a["cycle"],
        title="Alpha referral loops",
        level="team",
        team=growth,
        owner=cast.owner_a,
        parent=cast.strategic_a["objective"],
    )


def test_htmx_gets_the_rollup_tree_filtered_by_team(cast: Cast) -> None:
    rows = cast.strategic_a
    other = _another_team_objective(cast)
    client = _client(cast.member_a)
    url = _url("rollup", cast.company_a)

    everything = _text(client.get(url, headers={"HX-Request": "true"}))
    filtered = client.get(url, {"team": cast.team_a.pk}, headers={"HX-Request": "true"})

    text = _text(filtered)
    assert filtered.status_code == 200
    assert "<html" not in text and "<nav" not in text and 'class="tree"' in text
    assert other.title in everything and other.title not in text
    assert rows["team_objective"].title in text and rows["objective"].title in text  # the parent stays for context
    assert "Vary" in filtered and "HX-Request" in filtered["Vary"]
    full = _text(client.get(url, {"team": cast.team_a.pk}))
    assert "<html" in full and f'<option value="{cast.team_a.pk}" selected>' in full and other.title not in full


def test_htmx_gets_the_insights_body_filtered_by_team(cast: Cast) -> None:
    _delivered(cast, "No-team delivery")  # delivered now, like the cast's own: both in the current cycle
    client = _client(cast.member_a)
    url = _url("insights", cast.company_a)

    everything = client.get(url, headers={"HX-Request": "true"})
    filtered = client.get(url, {"team": cast.team_a.pk}, headers={"HX-Request": "true"})

    text = _text(filtered)
    assert filtered.status_code == 200
    assert "<html" not in text and "<nav" not in text and 'id="realisation-heading"' in text
    assert f" · {cast.team_a.name}</p>" in text
    delivered_all = everything.context["realisation"].total.delivered
    delivered_team = filtered.context["realisation"].total.delivered
    assert delivered_all == delivered_team + 1
    assert f"{delivered_team} delivered" in text and f"{delivered_all} delivered" in _text(everything)


def test_an_htmx_history_restore_gets_the_whole_page(cast: Cast) -> None:
    """After a cache miss htmx re-fetches a pushed URL with HX-Request and swaps it into <body>: it needs it all."""
    client = _client(cast.member_a)
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    for name in ("rollup", "insights"):
        response = client.get(_url(name, cast.company_a), {"team": cast.team_a.pk}, headers=headers)
        assert response.status_code == 200
        assert "<html" in _text(response) and 'aria-label="Main"' in _text(response), name


# --- sign-in throttling ----------------------------------------------------------------------
def test_sign_in_is_throttled_per_email_after_five_failures(cast: Cast) -> None:
    client = _client(None)
    login = reverse("web:login")
    email = cast.member_a.email

    for _ in range(5):
        failed = client.post(login, {"username": email, "password": "wrong-password"})
        assert failed.status_code == 200 and "Please enter a correct" in _text(failed)

    locked = client.post(login, {"username": email.upper(), "password": PASSWORD})
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert "Too many failed attempts" in _text(locked)
    assert "_auth_user_id" not in client.session

    other = _client(None).post(login, {"username": cast.viewer_a.email, "password": PASSWORD})
    assert other.status_code == 302 and other["Location"] == "/"


def test_fewer_than_five_failures_do_not_lock(cast: Cast) -> None:
    client = _client(None)
    login = reverse("web:login")
    for _ in range(4):
        assert client.post(login, {"username": cast.member_a.email, "password": "nope"}).status_code == 200

    response = client.post(login, {"username": cast.member_a.email, "password": PASSWORD})

    assert response.status_code == 302


# --- query counts ----------------------------------------------------------------------------
def _kr(company: Company, objective: Objective, title: str, owner: User) -> KeyResult:
    return key_result_create(
        company=company,
        objective=objective,
        title=title,
        owner=owner,
        kind="increase_to",
        unit="%",
        baseline=Decimal(60),
        target=Decimal(70),
    )


def _add_rows(cast: Cast, n: int, tag: str) -> None:
    """n more of everything the pages list: objectives, key results, check-ins, epics delivered and due,
    results, epics missing an outcome, teams; more metrics, links and history on the pages' own epics."""
    a, rows, member = cast.company_a, cast.strategic_a, cast.member_a
    squad = team_create(company=a, name=f"{tag} squad", lead=member, members=[member])
    for i in range(n):
        objective = objective_create(
            company=a,
            cycle=rows["cycle"],
            title=f"{tag} objective {i}",
            level="team",
            team=squad,
            owner=member,
            parent=rows["objective"],
        )
        own, extra = (
            _kr(a, objective, f"{tag} own {i}", member),
            _kr(a, rows["team_objective"], f"{tag} kr {i}", member),
        )
        for key_result in (own, extra, rows["key_result"]):
            check_in_record(key_result=key_result, value=Decimal(62 + i % 5), confidence=Decimal("0.5"), author=member)
        owner = UserFactory()
        MembershipFactory(user=owner, company=a, role=Role.MEMBER)
        delivered = _delivered(
            cast,
            f"{tag} delivery {i}",
            owner=member if i % 2 else owner,
            team=squad if i % 3 else None,
            key_results=(own, extra, rows["key_result"]),
            due=True,
        )
        if i % 2 == 0:
            result_record(epic=delivered, metrics=[{"metric": _metric_of(delivered), "value": 66}], recorded_by=member)
        contribution_set(epic=rows["epic"], key_result=own)
        contribution_set(epic=rows["done_epic"], key_result=own)
        started = epic_create(company=a, title=f"{tag} started {i}", owner=member, actor=member)
        epic_transition(epic=started, to_status="in_progress", source="sync")
        epic_create(company=a, title=f"{tag} proposed {i}", owner=member, actor=member)
    KeyResult.objects.filter(company=a, owner=member).update(next_checkin_due=timezone.now())
    metrics = [CONVERSION_METRIC] + [{**CONVERSION_METRIC, "name": f"{tag} metric {i}"} for i in range(n)]
    epic = rows["epic"]
    anticipated_outcome_set(epic=epic, problem="Carts are lost at payment.", expected_results="More.", metrics=metrics)
    for _ in range(n):
        epic_transition(epic=epic, to_status="planned", actor=member)
        epic_transition(epic=epic, to_status="in_progress", actor=member)
    done = rows["done_epic"]
    epic_transition(epic=done, to_status="in_progress", actor=member)
    done.refresh_from_db()  # transitions write a fresh copy
    anticipated_outcome_set(epic=done, problem="Carts are lost at payment.", expected_results="More.", metrics=metrics)
    for _ in range(n):
        epic_transition(epic=done, to_status="done", actor=member)
        epic_transition(epic=done, to_status="in_progress", actor=member)
    epic_transition(epic=done, to_status="done", actor=member)
    done.refresh_from_db()
    values = [{"metric": m, "value": Decimal(66)} for m in SuccessMetric.objects.filter(anticipated_outcome__epic=done)]
    result_record(epic=done, metrics=values, recorded_by=member)


def _query_counts(client: Client, pages: dict[str, str], assert_max: Callable[..., Any]) -> dict[str, int]:
    """How many queries each page reads (a name ending in "htmx" is asked for by htmx)."""
    counts: dict[str, int] = {}
    for name, url in pages.items():
        headers = {"HX-Request": "true"} if name.endswith("htmx") else {}
        with assert_max(MAX_QUERIES), CaptureQueriesContext(connection) as queries:
            response = client.get(url, headers=headers)
        assert response.status_code == 200, name
        counts[name] = len(queries)
    return counts


def test_every_page_reads_a_fixed_number_of_queries(cast: Cast, django_assert_max_num_queries: Any) -> None:
    client = _client(cast.member_a)
    pages = _pages(cast)
    pages["rollup htmx"] = f"{pages['rollup']}?team={cast.team_a.pk}"
    pages["insights htmx"] = f"{pages['insights']}?team={cast.team_a.pk}"
    _add_rows(cast, 1, "few")
    few = _query_counts(client, pages, django_assert_max_num_queries)

    _add_rows(cast, 12, "more")
    more = _query_counts(client, pages, django_assert_max_num_queries)

    assert more == few, f"few rows: {few}; many rows: {more}"
    # The larger data really is on the pages.
    assert "more objective 11" in _text(client.get(pages["rollup"]))
    assert "more kr 11" in _text(client.get(pages["team objective"]))
    assert "more metric 11" in _text(client.get(pages["result form"]))
    assert _text(client.get(pages["my work"])).count("Record the result of") >= 6


# --- reminders link to the pages ------------------------------------------------------------------
BERLIN = ZoneInfo("Europe/Berlin")


def _path(url: str) -> str:
    return urlsplit(url).path


def test_a_review_reminder_links_to_the_epic_page(cast: Cast, time_machine: Any, settings: Any) -> None:
    settings.PUBLIC_URL = "https://okr.example.com"
    Reminder.objects.all().delete()  # the cast's sample reminder would count as sent
    epic = cast.strategic_a["done_epic"]
    due = datetime(2027, 3, 2, 9, tzinfo=BERLIN)  # a Tuesday, in working hours
    OutcomeReview.objects.filter(epic=epic, state="pending").update(due_at=due)
    time_machine.move_to(due + timedelta(hours=1), tick=False)

    dispatch_reminders()

    (message,) = [m for m in mail.outbox if epic.title in m.subject]
    link = f"https://okr.example.com/c/alpha/epics/{epic.pk}/"
    assert f"Open: {link}" in message.body
    assert isinstance(message, EmailMultiAlternatives)
    assert f'href="{link}"' in str(message.alternatives[0][0])
    assert _client(cast.member_a).get(_path(link)).status_code == 200


def test_check_in_and_digest_notices_link_to_their_pages(cast: Cast, settings: Any) -> None:
    settings.PUBLIC_URL = "https://okr.example.com/"
    rows = cast.strategic_a
    a = cast.company_a
    now = timezone.now()
    OutcomeReview.objects.filter(epic=rows["done_epic"], state="pending").update(due_at=now - timedelta(days=1))

    check_in = check_in_notice(rows["key_result"])
    mine = member_digest(Reminder(company=a, recipient=cast.member_a, kind="digest_member"), now)
    executive = executive_digest(Reminder(company=a, recipient=cast.owner_a, kind="digest_executive"), now)

    assert mine is not None and executive is not None
    expected = [
        (check_in, f"https://okr.example.com/c/alpha/key-results/{rows['key_result'].pk}/", cast.member_a),
        (mine, "https://okr.example.com/c/alpha/my-work/", cast.member_a),
        (executive, "https://okr.example.com/c/alpha/", cast.owner_a),
    ]
    for notice, link, reader in expected:
        assert ("Open", link) in notice.links
        assert f"Open: {link}" in notice.text() and f'href="{link}"' in notice.html()
        buttons = [e["url"] for b in notice.blocks() if b["type"] == "actions" for e in b["elements"]]
        assert link in buttons
        assert _client(reader).get(_path(link)).status_code == 200


# --- time zone ---------------------------------------------------------------------------------
def test_times_show_in_the_companys_time_zone(cast: Cast) -> None:
    """Company A works in Europe/Berlin: 23:30 UTC is already the next day there."""
    rows = cast.strategic_a
    late = (timezone.now() - timedelta(days=1)).astimezone(UTC).replace(hour=23, minute=30, second=0, microsecond=0)
    berlin = late.astimezone(BERLIN)
    check_in_record(key_result=rows["key_result"], value=Decimal(65), author=cast.member_a, as_of=late)
    OutcomeReview.objects.filter(epic=rows["done_epic"], state="pending").update(due_at=late)
    client = _client(cast.member_a)

    key_result = client.get(_url("key-result", cast.company_a, rows["key_result"].pk))
    epic = _text(client.get(_url("epic", cast.company_a, rows["done_epic"].pk)))
    my_work = _text(client.get(_url("my-work", cast.company_a)))

    assert f"{berlin:%Y-%m-%d %H:%M}" in _text(key_result) and f"{late:%Y-%m-%d %H:%M}" not in _text(key_result)
    assert f"{berlin:%Y-%m-%d}" in key_result.context["chart"]["labels"]
    assert f"due {berlin:%Y-%m-%d}" in epic and f"due {berlin:%Y-%m-%d}" in my_work


def test_reminders_name_due_dates_in_the_companys_time_zone(cast: Cast) -> None:
    key_result = cast.strategic_a["key_result"]
    due = datetime(2026, 12, 1, 0, 30, tzinfo=BERLIN)  # 2026-11-30 23:30 UTC
    KeyResult.objects.filter(pk=key_result.pk).update(next_checkin_due=due)
    key_result.refresh_from_db()

    reminder = Reminder(company=cast.company_a, kind=ReminderKind.CHECK_IN_DUE, key_result=key_result)
    notice = notice_for(reminder, due)

    assert notice is not None
    assert notice.subject.endswith("due 2026-12-01")

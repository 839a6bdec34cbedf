"""The web pages in a real headless Chromium, driven through Playwright against the live test server.

One story closes the loop the way a product manager does: sign in, read the roll-up, register an
epic's anticipated outcome, let the tracker deliver it, record the result from "My work" and see the
verdict roll up. Nothing may leave the machine, no page may log a console error, and every main page
is saved as a screenshot under var/screenshots/ for people to look at.

Uses Debian's Chromium (/usr/bin/chromium), never a downloaded one: without it the tests skip (and fail
under CI=true, like every skip, see tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, ViewportSize, expect, sync_playwright

from epics.models import ActualResult, AnticipatedOutcome, Epic
from epics.services import contribution_set, epic_create, epic_transition
from okrs.models import KeyResult, Objective
from okrs.services import check_in_record, cycle_create, key_result_create, objective_create
from outcomes.choices import Role
from outcomes.models import Company, User
from outcomes.services.teams import team_create
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct-horse-battery"  # every factory-made person's password
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
ALL_CHARTS_DRAWN = """() => {
    const canvases = [...document.querySelectorAll("canvas[data-chart]")];
    return canvases.length > 0 && canvases.every((c) => c.dataset.drawn === "yes");
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API keeps an event loop running in this thread; Django would refuse the ORM here.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            yield chromium
            chromium.close()


@dataclass
class Watch:
    """What a page did that it should not: requests off the machine, console errors, static files missing."""

    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    static_failures: list[str] = field(default_factory=list)
    static_served: int = 0

    def route(self, route: Route, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname not in LOCAL_HOSTS:
            self.outside.append(request.url)
            route.abort()
        else:
            route.continue_()

    def console(self, message: ConsoleMessage) -> None:
        where = message.location.get("url", "") if message.location else ""
        if message.type == "error" and not where.endswith("/favicon.ico"):
            self.errors.append(f"{message.text} ({where})")

    def response(self, response: Any) -> None:
        if "/static/" in response.url:
            if response.status >= 400:
                self.static_failures.append(f"{response.status} {response.url}")
            else:
                self.static_served += 1

    def assert_clean(self) -> None:
        assert self.outside == [], "requests left the machine"
        assert self.errors == [], "the console logged errors"
        assert self.static_failures == [], "static files failed"


@pytest.fixture
def watched(browser: Browser, live_server: Any) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    watch = Watch()
    context.route("**/*", watch.route)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("console", watch.console)
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    page.on("response", watch.response)
    yield page, watch
    context.close()


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@dataclass
class Story:
    company: Company
    pm: User
    objective: Objective
    other_objective: Objective
    key_result: KeyResult
    epic: Epic


def _story() -> Story:
    """A company with a cycle active now, an objective, a key result and the PM's epic serving it (services only)."""
    company = CompanyFactory(name="Crumb & Co", slug="crumb")
    pm = UserFactory(email="pm.crumb@example.test", full_name="Pat Baker")
    MembershipFactory(user=pm, company=company, role=Role.MEMBER)
    today = timezone.localdate(timezone=ZoneInfo(company.timezone))
    cycle = cycle_create(
        company=company,
        name="Crumb this quarter",
        start=today - timedelta(days=30),
        end=today + timedelta(days=60),
        status="active",
    )
    objective = objective_create(company=company, cycle=cycle, title="Shops reorder on their own", owner=pm)
    key_result = key_result_create(
        company=company,
        objective=objective,
        title="Weekly reorders to 120",
        owner=pm,
        kind="increase_to",
        unit="orders",
        baseline=Decimal(80),
        target=Decimal(120),
    )
    check_in_record(key_result=key_result, value=Decimal(92), confidence=Decimal("0.7"), author=pm)
    bakers = team_create(company=company, name="Oven squad", lead=pm, members=[pm])
    other = objective_create(
        company=company, cycle=cycle, title="Ovens never idle", level="team", team=bakers, owner=pm
    )
    epic = epic_create(company=company, title="One-tap reorder", owner=pm, actor=pm)
    contribution_set(epic=epic, key_result=key_result, expected_contribution=Decimal(20))
    return Story(company, pm, objective, other, key_result, epic)


def _sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_product_manager_closes_the_loop(watched: tuple[Page, Watch], live_server: Any) -> None:
    page, watch = watched
    story = _story()
    slug = story.company.slug
    rollup = f"/c/{slug}/"
    assert page.request.get(f"{live_server.url}/static/web/app.css").status == 200

    # Sign in through the form: one company, so straight to its roll-up.
    page.goto("/accounts/login/")
    _shot(page, "login")
    _sign_in(page, story.pm.email)
    page.wait_for_url(f"{live_server.url}{rollup}")

    # The roll-up: the objective and key result with progress bars, and no chart in the tree.
    tree = page.locator("#tree")
    expect(page.get_by_role("heading", level=1)).to_have_text("Roll-up: Crumb this quarter")
    expect(tree.get_by_role("link", name=story.objective.title)).to_be_visible()
    expect(tree.get_by_role("link", name=story.key_result.title)).to_be_visible()
    expect(tree.get_by_role("meter", name=f"{story.key_result.title}: 30 %")).to_be_visible()
    expect(tree.get_by_role("meter")).to_have_count(4)  # the cycle, two objectives, the key result
    expect(page.locator("canvas")).to_have_count(0)
    _shot(page, "rollup")

    # The team filter swaps the tree through htmx and pushes the URL; going back restores the whole page,
    # also when htmx has to fetch it again (its history cache missed).
    page.get_by_label("Team").select_option(label="Oven squad")
    expect(tree.get_by_role("link", name=story.objective.title)).to_have_count(0)
    expect(tree.get_by_role("link", name=story.other_objective.title)).to_be_visible()
    assert "team=" in page.url
    page.evaluate("() => sessionStorage.removeItem('htmx-history-cache')")
    page.go_back()
    expect(page.locator("#tree").get_by_role("link", name=story.objective.title)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(1)
    expect(page.locator("#tree")).to_have_count(1)

    # The objective and its key result, each with its check-in chart.
    page.locator("#tree").get_by_role("link", name=story.objective.title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(story.objective.title)
    page.wait_for_function(ALL_CHARTS_DRAWN)
    _shot(page, "objective")
    page.get_by_role("heading", level=3).get_by_role("link", name=story.key_result.title).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(story.key_result.title)
    page.wait_for_function(ALL_CHARTS_DRAWN)
    _shot(page, "key-result")

    # The epic: register its anticipated outcome.
    page.get_by_role("link", name=story.epic.title).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(story.epic.title)
    expect(page.locator("#main")).to_contain_text("Not written yet.")
    _shot(page, "epic")
    page.get_by_role("link", name="Register the anticipated outcome").click()
    page.get_by_label("What problem are we solving?").fill("Shops forget to reorder and run out of flour.")
    page.get_by_label("What results do we expect").fill("Reorders per shop rise from 2 to 3 a week.")
    metric = page.get_by_role("group", name="Metric 1")
    metric.get_by_label("Name:", exact=True).fill("Reorders per shop")
    metric.get_by_label("Unit").fill("orders")
    metric.get_by_label("Direction").select_option("increase")
    metric.get_by_label("Baseline").fill("2")
    metric.get_by_label("Target").fill("3")
    metric.get_by_label("Data source").fill("Order database")
    metric.get_by_label("Measure after (days)").fill("1")
    expect(page.get_by_role("group", name="Metric 2")).to_be_visible()  # left empty: it adds nothing
    _shot(page, "outcome-form")
    page.get_by_role("button", name="Save the anticipated outcome").click()
    expect(page.locator(".messages")).to_contain_text("Anticipated outcome saved.")
    expect(page.locator("#main")).to_contain_text("Shops forget to reorder and run out of flour.")
    expect(page.get_by_role("row", name="Reorders per shop (orders)")).to_contain_text("2")
    outcome = AnticipatedOutcome.objects.get(epic=story.epic)
    assert outcome.metrics.get().window_days == 1  # one metric: the empty second row was left out

    # The tracker starts and delivers it: delivered two days ago, so the one-day review is due.
    now = timezone.now()
    epic_transition(epic=story.epic, to_status="in_progress", source="sync", tracker_timestamp=now - timedelta(3))
    epic_transition(epic=story.epic, to_status="done", source="sync", tracker_timestamp=now - timedelta(2))

    # My work asks for the result; record one that meets the target.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My work").click()
    expect(page.get_by_role("heading", name="Results to record (1)")).to_be_visible()
    _shot(page, "my-work")
    page.get_by_role("link", name=f"Record the result of {story.epic.title}").click()
    page.get_by_label("Reorders per shop (orders)").fill("3.4")
    page.get_by_label("Evidence for Reorders per shop").fill("https://bi.crumb.example/reorders")
    page.get_by_label("What we learned").fill("A reminder in the app is enough.")
    _shot(page, "result-form")
    page.get_by_role("button", name="Record the result").click()
    expect(page.locator(".messages")).to_contain_text("Result recorded.")
    expect(page.locator(".verdict")).to_contain_text("Verdict: achieved")
    _shot(page, "epic-with-result")
    assert ActualResult.objects.get(review__epic=story.epic).recorded_by == story.pm

    # The roll-up counts it under the objective.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Roll-up").click()
    line = page.locator("li.objective", has=page.get_by_role("link", name=story.objective.title)).locator(".figures")
    expect(line).to_contain_text("delivered 1, recorded 1, achieved 100 %")
    expect(page.locator("#tree")).to_contain_text("review recorded")

    # Insights: the vendored Chart.js, served from /static/, drew every chart.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Insights").click()
    page.wait_for_function(ALL_CHARTS_DRAWN)
    assert page.locator("canvas[data-drawn='yes']").count() >= 2
    expect(page.locator("#insights")).to_contain_text("1 delivered")
    _shot(page, "insights")

    # A phone: the roll-up folds without scrolling sideways.
    page.set_viewport_size(PHONE)
    page.goto(rollup)
    expect(page.locator("#tree").get_by_role("link", name=story.objective.title)).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(page, "rollup-phone")

    assert watch.static_served >= 4  # the stylesheet, htmx, Chart.js and charts.js at least
    watch.assert_clean()


def test_signing_in_works_from_the_keyboard(watched: tuple[Page, Watch], live_server: Any) -> None:
    page, watch = watched
    person = UserFactory(email="keys@example.test")
    MembershipFactory(user=person, company=CompanyFactory(slug="keys"), role=Role.VIEWER)

    page.goto("/accounts/login/")

    def focused() -> str:
        return str(page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()"))

    for _ in range(5):  # the username has autofocus; otherwise Tab gets there past the header links
        if focused() == "id_username":
            break
        page.keyboard.press("Tab")
    assert focused() == "id_username"
    page.keyboard.type(person.email)
    page.keyboard.press("Tab")
    assert focused() == "id_password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert focused() == "Sign in"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Enter")

    page.wait_for_url(f"{live_server.url}/c/keys/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Roll-up")
    watch.assert_clean()

"""Every API route, how to call it, and what to send: the data behind the route matrices.

Later apps extend ``TARGETS``, ``VALID_BODIES`` and ``FOREIGN_ID_BODIES`` for their
routes; the matrix tests fail until they do, so no route goes untested.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.relations import ManyRelatedField, RelatedField

from epics.models import Epic
from integrations.models import (
    Connection,
    OutboundDelivery,
    Reminder,
    SlackWebhook,
    SyncRun,
    WebhookDelivery,
    WebhookEndpoint,
)
from okrs.models import Cycle, KeyResult, Objective
from outcomes.models import APIKey, BusinessOutcome, Company, Investment, Membership, Strategy, SwotItem, Team, User
from tests.conftest import Cast

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Route:
    method: str
    name: str  # namespaced view name, e.g. "v1:team-detail"
    kwargs: tuple[str, ...]  # URL keyword arguments, e.g. ("company_slug", "pk")

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.name)

    @property
    def is_company_route(self) -> bool:
        return "company_slug" in self.kwargs

    def __str__(self) -> str:
        return f"{self.method} {self.name}"


def _kwarg_names(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if (converters is not None and not hasattr(pattern, "regex")) or hasattr(pattern, "_route"):
        return list(getattr(pattern, "converters", {}))
    return list(pattern.regex.groupindex)


def _methods(callback: Any) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return sorted(method.upper() for method in actions)
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return ["GET"]
    return sorted(
        method.upper()
        for method in view_class.http_method_names
        if method not in {"options", "head"} and hasattr(view_class, method)
    )


def _walk(
    patterns: list[Any], prefix: str, namespace: str, kwargs: list[str]
) -> Iterator[tuple[str, str, list[str], Any]]:
    for entry in patterns:
        here = prefix + str(entry.pattern)
        names = kwargs + _kwarg_names(entry.pattern)
        if isinstance(entry, URLResolver):
            inner_ns = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            yield from _walk(entry.url_patterns, here, inner_ns, names)
        elif isinstance(entry, URLPattern) and entry.name:
            yield here, f"{namespace}:{entry.name}".strip(":"), names, entry.callback


def api_routes() -> list[Route]:
    """Every (method, view name) served under /api/."""
    routes = set()
    for path, name, kwargs, callback in _walk(get_resolver().url_patterns, "", "", []):
        if not path.lstrip("^").startswith("api/"):
            continue
        for method in _methods(callback):
            routes.add(Route(method, name, tuple(kwargs)))
    return sorted(routes, key=lambda route: (route.name, route.method))


# --- what each route acts on ---------------------------------------------------------
# Routes that act on another row of the model than the usual one.
ROUTE_TARGETS: dict[str, str] = {
    "v1:objective-grade": "closed_objective",
    "v1:epic-review": "done_epic",
    "v1:epic-review-waive": "done_epic",
    "v1:epic-results": "done_epic",
}
STRATEGIC_MODELS: dict[type, str] = {
    Connection: "connection",
    SyncRun: "sync_run",
    WebhookDelivery: "webhook_delivery",
    Reminder: "reminder",
    SlackWebhook: "slack_webhook",
    WebhookEndpoint: "webhook_endpoint",
    OutboundDelivery: "outbound_delivery",
    Cycle: "cycle",
    Epic: "epic",
    Objective: "team_objective",
    KeyResult: "key_result",
    SwotItem: "swot",
    Strategy: "strategy",
    Investment: "investment",
    BusinessOutcome: "outcome",
}


def target_pk(model: type, cast: Cast, company: str = "a", *, deleting: bool = False, route: str = "") -> int:
    """The id of company ``company``'s row of ``model`` that the route acts on."""
    if route in ROUTE_TARGETS:
        return cast.of(company)[ROUTE_TARGETS[route]].pk
    if deleting and model in DELETABLE:
        return DELETABLE[model](cast, company)
    if model is Membership:
        user = cast.member_a if company == "a" else cast.member_b
        return Membership.objects.get(user=user).pk
    if model is Team:
        return (cast.team_a if company == "a" else cast.team_b).pk
    if model is APIKey:
        return APIKey.objects.filter(company=cast.company_a if company == "a" else cast.company_b).earliest("id").pk
    if model in STRATEGIC_MODELS:
        return cast.of(company)[STRATEGIC_MODELS[model]].pk
    raise KeyError(f"No test target for {model.__name__}: add it to tests/api_routes.py")


def _company(cast: Cast, company: str) -> Company:
    return cast.company_a if company == "a" else cast.company_b


def _owner(cast: Cast, company: str) -> User:
    return cast.owner_a if company == "a" else cast.owner_b


# Rows that a DELETE may remove (the cast's own rows are linked, so their deletion is refused by rule).
def _member(cast: Cast, company: str) -> User:
    return cast.member_a if company == "a" else cast.member_b


DELETABLE: dict[type, Callable[[Cast, str], int]] = {
    Epic: lambda c, co: Epic.objects.create(company=_company(c, co), title="Spare", owner=_member(c, co)).pk,
    Cycle: lambda c, co: (
        Cycle.objects.create(company=_company(c, co), name="Spare", start=date(2027, 1, 1), end=date(2027, 3, 31)).pk
    ),
    Objective: lambda c, co: (
        Objective.objects.create(
            company=_company(c, co),
            cycle=c.of(co)["cycle"],
            title="Spare",
            level="team",
            team=c.team_a if co == "a" else c.team_b,
            owner=_member(c, co),
        ).pk
    ),
    KeyResult: lambda c, co: (
        KeyResult.objects.create(
            company=_company(c, co),
            objective=c.of(co)["team_objective"],
            title="Spare",
            owner=_member(c, co),
            kind="milestone",
            target=1,
            next_checkin_due=c.of(co)["key_result"].next_checkin_due,
        ).pk
    ),
    Team: lambda c, co: Team.objects.create(company=_company(c, co), name="Spare team").pk,
    SwotItem: lambda c, co: (
        SwotItem.objects.create(
            company=_company(c, co), kind="strength", title="Spare", impact=1, owner=_owner(c, co)
        ).pk
    ),
    Strategy: lambda c, co: (
        Strategy.objects.create(
            company=_company(c, co),
            title="Spare",
            horizon_start=date(2026, 1, 1),
            horizon_end=date(2026, 6, 30),
            owner=_owner(c, co),
        ).pk
    ),
    BusinessOutcome: lambda c, co: (
        BusinessOutcome.objects.create(
            company=_company(c, co),
            title="Spare",
            category="other",
            metric_name="m",
            direction="increase",
            baseline=0,
            target=1,
            target_date=date(2026, 12, 31),
            owner=_owner(c, co),
        ).pk
    ),
}


def route_model(route: Route) -> type:
    view_class: Any = view_of(route)[0]
    return view_class.queryset.model


def url_for(route: Route, cast: Cast, company: str = "a", ids_of: str | None = None) -> str:
    """The route's URL for company ``company`` with object ids of company ``ids_of``."""
    ids_of = ids_of or company
    values: dict[str, Any] = {}
    for name in route.kwargs:
        if name == "company_slug":
            values[name] = _company(cast, company).slug
        elif name == "pk":
            deleting = route.method == "DELETE" and route.name.endswith("-detail")
            values[name] = target_pk(route_model(route), cast, ids_of, deleting=deleting, route=route.name)
        elif name == "user_id":
            values[name] = (cast.member_a if ids_of == "a" else cast.member_b).pk
        elif name == "number":
            values[name] = cast.of(ids_of)["identity"].number
        elif name == "key_result_id":
            values[name] = cast.of(ids_of)["key_result"].pk
        elif name == "day":
            values[name] = "2026-10-15"
        elif name == "connection_id":
            values[name] = cast.of(ids_of)["connection"].pk
        else:
            raise KeyError(f"No test value for URL argument {name!r} of {route}")
    return reverse(route.name, kwargs=values)


BodyMaker = Callable[[Cast], dict[str, Any]]

# A valid body for every write route that takes one: allowed callers get a 2xx.
VALID_BODIES: dict[tuple[str, str], BodyMaker] = {
    ("POST", "v1:companies"): lambda c: {"name": "Newco"},
    ("PATCH", "v1:company-detail"): lambda c: {"name": "Alpha Renamed"},
    ("POST", "v1:member-list"): lambda c: {"email": "newcomer@example.test", "role": "viewer"},
    ("PATCH", "v1:member-detail"): lambda c: {"role": "executive"},
    ("POST", "v1:team-list"): lambda c: {"name": "New Team", "topology": "platform"},
    ("PUT", "v1:team-detail"): lambda c: {"name": "Renamed Team", "topology": "enabling"},
    ("PATCH", "v1:team-detail"): lambda c: {"name": "Renamed Team"},
    ("POST", "v1:team-members"): lambda c: {"user": c.viewer_a.pk},
    ("POST", "v1:api-key-list"): lambda c: {"name": "Reporting", "scope": "read"},
    ("PUT", "v1:identity"): lambda c: {"mission": "New mission", "vision": "New vision", "values": []},
    ("PATCH", "v1:identity"): lambda c: {"vision": "A sharper vision"},
    ("POST", "v1:swot-item-list"): lambda c: _swot(c),
    ("PUT", "v1:swot-item-detail"): lambda c: _swot(c),
    ("PATCH", "v1:swot-item-detail"): lambda c: {"impact": 5},
    ("POST", "v1:strategy-list"): lambda c: _strategy(c),
    ("PUT", "v1:strategy-detail"): lambda c: _strategy(c),
    ("PATCH", "v1:strategy-detail"): lambda c: {"status": "retired"},
    ("POST", "v1:investment-list"): lambda c: _investment(c),
    ("PUT", "v1:investment-detail"): lambda c: _investment(c),
    ("PATCH", "v1:investment-detail"): lambda c: {"amount": "5.00"},
    ("POST", "v1:business-outcome-list"): lambda c: _outcome(c),
    ("PUT", "v1:business-outcome-detail"): lambda c: _outcome(c),
    ("PATCH", "v1:business-outcome-detail"): lambda c: {"target": "90"},
    ("POST", "v1:business-outcome-measurements"): lambda c: {"value": "63.5", "comment": "weekly"},
    ("POST", "v1:cycle-list"): lambda c: {"name": "2027 Q1", "start": "2027-01-01", "end": "2027-03-31"},
    ("PUT", "v1:cycle-detail"): lambda c: {"name": "Q4 renamed", "start": "2026-10-01", "end": "2026-12-31"},
    ("PATCH", "v1:cycle-detail"): lambda c: {"name": "Q4 renamed"},
    ("POST", "v1:objective-list"): lambda c: _objective(c),
    ("PUT", "v1:objective-detail"): lambda c: {**_objective(c), "parent": c.strategic_a["objective"].pk},
    ("PATCH", "v1:objective-detail"): lambda c: {"title": "Checkout, effortless"},
    ("PUT", "v1:objective-grade"): lambda c: {"result": "partly", "learnings": "Start earlier."},
    ("POST", "v1:key-result-list"): lambda c: _key_result(c),
    ("PUT", "v1:key-result-detail"): lambda c: _key_result(c),
    ("PATCH", "v1:key-result-detail"): lambda c: {"target": "75"},
    ("POST", "v1:key-result-check-ins"): lambda c: {"value": "65", "confidence": "0.7"},
    ("PUT", "v1:key-result-day-value"): lambda c: {"value": "65.5"},
    ("POST", "v1:epic-list"): lambda c: {"title": "Guest checkout", "owner": c.member_a.pk, "team": c.team_a.pk},
    ("PUT", "v1:epic-detail"): lambda c: {"title": "One-click pay for all", "owner": c.member_a.pk},
    ("PATCH", "v1:epic-detail"): lambda c: {"work_type": "debt"},
    ("PUT", "v1:epic-anticipated-outcome"): lambda c: _anticipated(),
    ("POST", "v1:epic-contributions"): lambda c: {"key_result": c.strategic_a["key_result"].pk, "note": "main lever"},
    ("POST", "v1:epic-transition"): lambda c: {"status": "done"},
    ("POST", "v1:epic-review-waive"): lambda c: {"reason": "Measured by the finance team."},
    ("POST", "v1:epic-results"): lambda c: {
        "metrics": [{"metric": c.strategic_a["done_epic_metric"].pk, "value": "64"}]
    },
}


VALID_BODIES |= {
    ("POST", "v1:connection-list"): lambda c: _github(),
    ("PUT", "v1:connection-detail"): lambda c: {
        "name": "Jira Cloud",
        "kind": "jira",
        "base_url": "https://alpha.atlassian.net",
    },
    ("PATCH", "v1:connection-detail"): lambda c: {"enabled": False},
    ("POST", "v1:connection-preview-status-map"): lambda c: {"kind": "jira"},
    ("POST", "v1:connection-sync"): lambda c: {"full": True},
    ("POST", "v1:slack-webhook-list"): lambda c: {"url": SLACK_URL, "team": c.team_a.pk},
    ("PUT", "v1:slack-webhook-detail"): lambda c: {"url": SLACK_URL},
    ("PATCH", "v1:slack-webhook-detail"): lambda c: {"url": SLACK_URL},
    ("POST", "v1:webhook-endpoint-list"): lambda c: {
        "url": "https://hooks.alpha.example/bi",
        "events": ["epic.delivered"],
    },
    ("PUT", "v1:webhook-endpoint-detail"): lambda c: {
        "url": "https://hooks.alpha.example/bi",
        "events": ["outcome.due"],
    },
    ("PATCH", "v1:webhook-endpoint-detail"): lambda c: {"active": False},
    ("PUT", "v1:notification-preferences"): lambda c: {"channels": ["email"], "digest_weekday": 4, "digest_hour": 16},
    ("PATCH", "v1:notification-preferences"): lambda c: {"paused_until": str(date.today() + timedelta(days=30))},
}
SLACK_URL = "https://hooks.slack.com/services/T0NEW/B000/YYYYYYYYYYYYYYYYYYYY"


def _github() -> dict[str, Any]:
    return {
        "name": "GitHub",
        "kind": "github",
        "credentials": {"token": "ghp_example_token_0123456789"},
        "scope": {"repositories": ["acme/shop"], "label": "epic"},
    }


def _anticipated() -> dict[str, Any]:
    metric = {"name": "Conversion", "unit": "%", "direction": "increase", "baseline": "61", "target": "65"}
    return {"problem": "Lost carts.", "expected_results": "More orders.", "metrics": [metric]}


def _objective(c: Cast) -> dict[str, Any]:
    cycle, team, owner = c.strategic_a["cycle"].pk, c.team_a.pk, c.member_a.pk
    return {"cycle": cycle, "title": "Faster payouts", "level": "team", "team": team, "owner": owner}


def _key_result(c: Cast) -> dict[str, Any]:
    objective = c.strategic_a["team_objective"].pk
    return {
        "objective": objective,
        "title": "Payout in a day",
        "owner": c.member_a.pk,
        "kind": "decrease_to",
        "baseline": "3",
        "target": "1",
    }


def _swot(c: Cast) -> dict[str, Any]:
    return {"kind": "opportunity", "title": "New market", "impact": 3, "owner": c.owner_a.pk}


def _strategy(c: Cast) -> dict[str, Any]:
    start, end = "2026-01-01", "2026-12-31"
    return {"title": "Expand", "horizon_start": start, "horizon_end": end, "owner": c.owner_a.pk, "status": "active"}


def _investment(c: Cast) -> dict[str, Any]:
    strategy = c.strategic_a["strategy"].pk
    return {
        "strategy": strategy,
        "amount": "1000.00",
        "currency": "EUR",
        "period_start": "2026-04-01",
        "period_end": "2026-06-30",
    }


def _outcome(c: Cast) -> dict[str, Any]:
    return {
        "title": "Faster support",
        "category": "customer_satisfaction",
        "metric_name": "First reply (hours)",
        "direction": "decrease",
        "baseline": "10",
        "target": "2",
        "target_date": "2026-12-31",
        "owner": c.owner_a.pk,
    }


# Bodies that point at company A's rows, sent by company B to its own routes: each must be a 400.
FOREIGN_ID_BODIES: dict[tuple[str, str], BodyMaker] = {
    ("POST", "v1:team-list"): lambda c: {"name": "Spy", "lead": c.member_a.pk, "members": [c.owner_a.pk]},
    ("PUT", "v1:team-detail"): lambda c: {"name": "Spy", "lead": c.member_a.pk},
    ("PATCH", "v1:team-detail"): lambda c: {"lead": c.member_a.pk},
    ("POST", "v1:team-members"): lambda c: {"user": c.member_a.pk},
    ("POST", "v1:member-list"): lambda c: {"user": c.member_a.pk, "role": "member"},
    ("POST", "v1:swot-item-list"): lambda c: {**_swot(c), "owner": c.owner_a.pk},
    ("PUT", "v1:swot-item-detail"): lambda c: {**_swot(c), "owner": c.owner_a.pk},
    ("PATCH", "v1:swot-item-detail"): lambda c: {"owner": c.owner_a.pk},
    ("POST", "v1:strategy-list"): lambda c: {**_strategy(c), "owner": c.owner_b.pk, **_a_links(c)},
    ("PUT", "v1:strategy-detail"): lambda c: {**_strategy(c), "owner": c.owner_b.pk, **_a_links(c)},
    ("PATCH", "v1:strategy-detail"): lambda c: {"owner": c.owner_a.pk, **_a_links(c)},
    ("POST", "v1:investment-list"): lambda c: {**_investment(c), "team": c.team_a.pk},
    ("PUT", "v1:investment-detail"): lambda c: {**_investment(c), "team": c.team_a.pk},
    ("PATCH", "v1:investment-detail"): lambda c: {"strategy": c.strategic_a["strategy"].pk, "team": c.team_a.pk},
    ("POST", "v1:business-outcome-list"): lambda c: _outcome(c),
    ("PUT", "v1:business-outcome-detail"): lambda c: _outcome(c),
    ("PATCH", "v1:business-outcome-detail"): lambda c: {"owner": c.owner_a.pk},
    ("POST", "v1:objective-list"): lambda c: _objective_of_a(c),
    ("PUT", "v1:objective-detail"): lambda c: _objective_of_a(c),
    ("PATCH", "v1:objective-detail"): lambda c: {"parent": c.strategic_a["objective"].pk, "team": c.team_a.pk},
    ("POST", "v1:key-result-list"): lambda c: {**_key_result(c), "owner": c.owner_b.pk},
    ("PUT", "v1:key-result-detail"): lambda c: {**_key_result(c), "owner": c.owner_b.pk},
    ("PATCH", "v1:key-result-detail"): lambda c: {"objective": c.strategic_a["objective"].pk},
    ("POST", "v1:epic-list"): lambda c: {"title": "Spy", "owner": c.owner_a.pk, "team": c.team_a.pk},
    ("PUT", "v1:epic-detail"): lambda c: {"title": "Spy", "owner": c.owner_a.pk, "team": c.team_a.pk},
    ("PATCH", "v1:epic-detail"): lambda c: {"team": c.team_a.pk, "reviewer": c.owner_a.pk},
    ("POST", "v1:epic-contributions"): lambda c: {"key_result": c.strategic_a["key_result"].pk},
    ("POST", "v1:epic-results"): lambda c: {"metrics": [{"metric": c.strategic_a["done_epic_metric"].pk}]},
    ("POST", "v1:connection-list"): lambda c: {**_github(), "default_owner": c.owner_a.pk},
    ("PUT", "v1:connection-detail"): lambda c: {**_github(), "kind": "jira", "default_owner": c.owner_a.pk},
    ("PATCH", "v1:connection-detail"): lambda c: {"default_owner": c.owner_a.pk},
    ("POST", "v1:slack-webhook-list"): lambda c: {"url": SLACK_URL, "team": c.team_a.pk},
    ("PUT", "v1:slack-webhook-detail"): lambda c: {"url": SLACK_URL, "team": c.team_a.pk},
    ("PATCH", "v1:slack-webhook-detail"): lambda c: {"team": c.team_a.pk},
}


def _objective_of_a(c: Cast) -> dict[str, Any]:
    rows = c.strategic_a
    return {
        "cycle": rows["cycle"].pk,
        "title": "Spy",
        "level": "team",
        "team": c.team_a.pk,
        "owner": c.owner_a.pk,
        "parent": rows["objective"].pk,
        "strategies": [rows["strategy"].pk],
        "business_outcomes": [rows["outcome"].pk],
        "anticipated_business_outcome": rows["outcome"].pk,
    }


def _a_links(c: Cast) -> dict[str, Any]:
    return {"swot_items": [c.strategic_a["swot"].pk], "business_outcomes": [c.strategic_a["outcome"].pk]}


# Filters that take ids: company A's ids sent by company B must be a 400.
FOREIGN_ID_FILTERS: dict[str, Callable[[Cast], dict[str, Any]]] = {
    "v1:member-list": lambda c: {"user_id": c.owner_a.pk},
    "v1:team-list": lambda c: {"lead_id": c.member_a.pk, "member_id": c.member_a.pk},
    "v1:swot-item-list": lambda c: {"owner_id": c.owner_a.pk, "strategy_id": c.strategic_a["strategy"].pk},
    "v1:swot-item-unaddressed": lambda c: {"owner_id": c.owner_a.pk, "strategy_id": c.strategic_a["strategy"].pk},
    "v1:strategy-list": lambda c: {
        "owner_id": c.owner_a.pk,
        "swot_item_id": c.strategic_a["swot"].pk,
        "business_outcome_id": c.strategic_a["outcome"].pk,
    },
    "v1:investment-list": lambda c: {"strategy_id": c.strategic_a["strategy"].pk, "team_id": c.team_a.pk},
    "v1:investment-totals": lambda c: {"strategy_id": c.strategic_a["strategy"].pk, "team_id": c.team_a.pk},
    "v1:business-outcome-list": lambda c: {"owner_id": c.owner_a.pk, "strategy_id": c.strategic_a["strategy"].pk},
    "v1:objective-list": lambda c: {
        "cycle_id": c.strategic_a["cycle"].pk,
        "team_id": c.team_a.pk,
        "owner_id": c.owner_a.pk,
        "parent_id": c.strategic_a["objective"].pk,
        "strategy_id": c.strategic_a["strategy"].pk,
    },
    "v1:epic-list": lambda c: {
        "owner_id": c.owner_a.pk,
        "team_id": c.team_a.pk,
        "key_result_id": c.strategic_a["key_result"].pk,
        "objective_id": c.strategic_a["team_objective"].pk,
        "cycle_id": c.strategic_a["cycle"].pk,
    },
    "v1:key-results-without-epics": lambda c: {"cycle_id": c.strategic_a["cycle"].pk},
    "v1:sync-run-list": lambda c: {"connection_id": c.strategic_a["connection"].pk},
    "v1:webhook-delivery-list": lambda c: {"connection_id": c.strategic_a["connection"].pk},
    "v1:outbound-delivery-list": lambda c: {"endpoint_id": c.strategic_a["webhook_endpoint"].pk},
    "v1:reminder-list": lambda c: {"recipient_id": c.member_a.pk},
    "v1:objectives-without-epics": lambda c: {"cycle_id": c.strategic_a["cycle"].pk},
    "v1:key-result-list": lambda c: {
        "objective_id": c.strategic_a["team_objective"].pk,
        "cycle_id": c.strategic_a["cycle"].pk,
        "owner_id": c.member_a.pk,
    },
}


def view_of(route: Route) -> tuple[type, str | None]:
    placeholders = {"company_slug": "x", "day": "2026-01-01"}
    url = reverse(route.name, kwargs={k: placeholders.get(k, 1) for k in route.kwargs})
    func = resolve(url).func
    actions = getattr(func, "actions", None) or {}
    return func.cls, actions.get(route.method.lower())  # type: ignore[attr-defined]


def request_serializer_fields(route: Route) -> dict[str, Any]:
    """Fields of the request body the schema documents for ``route``."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    view_class, action = view_of(route)
    endpoints: list[Any] = generator._get_paths_and_endpoints()
    for _path, _regex, method, view in endpoints:
        if method == route.method and type(view) is view_class and getattr(view, "action", None) == action:
            view.schema.method, view.schema.path = method, _path  # type: ignore[attr-defined]
            serializer = view.schema.get_request_serializer()  # type: ignore[attr-defined]
            if serializer is None:
                return {}
            instance = serializer() if isinstance(serializer, type) else serializer
            return dict(getattr(instance, "fields", {}))
    raise LookupError(f"{route} is not in the schema")


def related_field_names(fields: dict[str, Any]) -> list[str]:
    return [name for name, field in fields.items() if isinstance(field, (RelatedField, ManyRelatedField))]


def id_filter_names(route: Route) -> list[str]:
    """Query filters of a list route that take ids of rows."""
    import django_filters

    view_class, action = view_of(route)
    if action not in getattr(view_class, "filtered_actions", {"list"}):
        return []
    filterset_class = getattr(view_class, "filterset_class", None)
    if filterset_class is None:
        return []
    id_filters = (django_filters.ModelChoiceFilter, django_filters.ModelMultipleChoiceFilter)
    return [name for name, f in filterset_class.base_filters.items() if isinstance(f, id_filters)]


# --- the OpenAPI document, per route ------------------------------------------------------
@functools.cache
def openapi_schema() -> dict[str, Any]:
    """The generated OpenAPI document (built once per process)."""
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


def _schema_endpoint(route: Route, inspect: Callable[[Any], Any]) -> tuple[str, Any]:
    """The schema path of ``route``, and what ``inspect`` finds on the view the schema describes it with."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    view_class, action = view_of(route)
    endpoints: list[Any] = generator._get_paths_and_endpoints()
    for path, _regex, method, view in endpoints:
        if method == route.method and type(view) is view_class and getattr(view, "action", None) == action:
            view.schema.method, view.schema.path = method, path  # type: ignore[attr-defined]
            return path, inspect(view)
    raise LookupError(f"{route} is not in the schema")


@functools.cache
def _schema_paths() -> dict[tuple[str, type, str | None], str]:
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    endpoints: list[Any] = generator._get_paths_and_endpoints()
    return {(method, type(view), getattr(view, "action", None)): path for path, _regex, method, view in endpoints}


def schema_operation(route: Route) -> dict[str, Any]:
    """The route's operation in the OpenAPI document (responses, request body, parameters)."""
    view_class, action = view_of(route)
    path = _schema_paths()[(route.method, view_class, action)]
    operation: dict[str, Any] = openapi_schema()["paths"][path][route.method.lower()]
    return operation


def response_serializers(route: Route) -> list[Any]:
    """The serializers the schema documents for the route's 2xx answers (none for a body-less answer)."""
    _path, documented = _schema_endpoint(route, lambda view: view.schema.get_response_serializers())
    by_status = documented if isinstance(documented, dict) else {200: documented}
    found = []
    for status_code, serializer in by_status.items():
        if not str(status_code).startswith("2"):
            continue
        serializer = getattr(serializer, "response", serializer)  # OpenApiResponse wraps it
        if serializer is None or isinstance(serializer, dict):
            continue
        found.append(serializer() if isinstance(serializer, type) else serializer)
    return found

"""Mass assignment: no write route lets a caller set what only the service sets.

Every POST, PUT and PATCH of ``api_routes()`` is called by company A's owner with its valid body
plus attacker values for every protected field:

* each field the route's answer shows but its body does not take, found from the response
  serializers (``read_only`` fields included) and the schema's response properties (``readOnly``
  included): ids, timestamps, statuses, verdicts, progress, key prefixes, hints, who did what;
* ``company``, ``company_id`` and ``company_slug`` naming company B, ``is_staff``,
  ``is_superuser`` and ``role`` (where the route does not take them);
* and, in a second call, ``id``, ``company`` and ``created`` inside each object of a list in the
  body (metrics, values).

The answer is a 2xx or a 400. After a 400 nothing of company A changed. After a 2xx company A
holds exactly what the same call without the attacker fields stores (ids of new rows and times
set during the test aside: attacker times are in 2001, so they cannot hide among them), and the
answer does not echo an attacker value the plain call does not give. Company B is untouched
either way.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from rest_framework import serializers as drf
from rest_framework.test import APIClient

from integrations.secrets import decrypt
from outcomes.models import Company, User
from tests.api_routes import (
    Route,
    api_routes,
    request_serializer_fields,
    response_serializers,
    route_model,
    schema_operation,
)
from tests.conftest import Cast
from tests.test_cross_company import company_models, snapshot_of
from tests.test_response_keys import RECEIVE, call, caller_of, prepare, resolve, valid_body

WRITES = [route for route in api_routes() if route.method in {"POST", "PUT", "PATCH"}]
ATTACK_TIME = "2001-02-03T04:05:06Z"
ATTACK_DAY = "2001-02-03"
ALWAYS_PROTECTED = {"id", "company", "company_id", "company_slug", "created", "updated", "created_at", "updated_at"}
ALWAYS_PROTECTED |= {"is_staff", "is_superuser", "role"}

# What differs between two identical calls by design, per route: not a field the caller set.
DIFFERS_EVERY_CALL: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "v1:webhook-endpoint-rotate-secret"): {"WebhookEndpoint.secret_encrypted": "a new random secret"},
    ("POST", "v1:webhook-receive"): {"WebhookDelivery.payload": "the tracker's body is stored as it was sent"},
}


# --- what an attacker sends --------------------------------------------------------------------------------------
def protected_fields(route: Route) -> dict[str, Any]:
    """Every field the route's answer shows and its body does not take, with the field that shows it (if any)."""
    taken = request_serializer_fields(route)
    writable = {name for name, field in taken.items() if not field.read_only}
    shown: dict[str, Any] = dict.fromkeys(ALWAYS_PROTECTED)
    shown |= {name: field for name, field in taken.items() if field.read_only}
    for code, response in schema_operation(route)["responses"].items():
        if code.startswith("2"):
            body, _refs = resolve(response.get("content", {}).get("application/json", {}).get("schema"))
            shown |= {name: shown.get(name) for name in (body or {}).get("properties", {})}
    for serializer in response_serializers(route):
        shown |= dict(getattr(serializer, "fields", {}))
    return {name: field for name, field in shown.items() if name not in writable}


def _model_of(field: Any) -> type[Model] | None:
    queryset = getattr(field, "queryset", None) or getattr(getattr(field, "child_relation", None), "queryset", None)
    if queryset is not None:
        model: type[Model] = queryset.model
        return model
    meta = getattr(field, "Meta", None) or getattr(getattr(field, "child", None), "Meta", None)
    return getattr(meta, "model", None)


def row_of_b(model: type[Model] | None, cast: Cast) -> int:
    """The id of a row of company B of ``model``: what an attacker would point a protected link at."""
    if model is None:
        return 987654
    if issubclass(model, User):
        return cast.owner_b.pk
    if issubclass(model, Company):
        return cast.company_b.pk
    rows: Any = model._default_manager.get_queryset()
    if not hasattr(rows, "for_company"):
        return 987654
    first = rows.for_company(cast.company_b).order_by("pk").first()
    return first.pk if first is not None else 987654


def _other_choice(field: Any, current: Any) -> Any:
    choices = [choice for choice in getattr(field, "choices", {}) if choice not in (current, "")]
    return choices[0] if choices else None


def attacker_value(name: str, field: Any, plain: Any, route: Route, cast: Cast) -> Any:
    """A value for ``name`` unlike what the plain call answers with, pointing at company B where it can."""
    if name in {"company", "company_id"}:
        return cast.company_b.pk
    if name == "company_slug":
        return cast.company_b.slug
    if name in {"is_staff", "is_superuser"}:
        return True
    if name == "id":
        return row_of_b(route_model(route) if route.key != RECEIVE else None, cast)
    if name == "role":
        return "owner"
    if isinstance(field, drf.ChoiceField) and (other := _other_choice(field, plain)) is not None:
        return other
    if isinstance(field, (drf.RelatedField, drf.ManyRelatedField, drf.BaseSerializer)) or _model_of(field):
        pk = row_of_b(_model_of(field), cast)
        many = isinstance(field, drf.ManyRelatedField) or getattr(field, "many", False) or isinstance(plain, list)
        return [pk] if many else pk
    return _unlike(field, plain)


def _unlike(field: Any, plain: Any) -> Any:
    if isinstance(plain, bool) or isinstance(field, drf.BooleanField):
        return not plain
    if isinstance(plain, int) or isinstance(field, drf.IntegerField):
        return (plain or 0) + 4242
    if isinstance(field, drf.DateTimeField) or (isinstance(plain, str) and _parses(plain, datetime)):
        return ATTACK_TIME
    if isinstance(field, drf.DateField) or (isinstance(plain, str) and _parses(plain, date)):
        return ATTACK_DAY
    if isinstance(field, (drf.DecimalField, drf.FloatField)):
        return "0.123"
    if isinstance(plain, dict):
        return {"attacker": True}
    if isinstance(plain, list):
        return [] if plain else ["attacker"]
    return "attacker-value"


def _parses(text: str, kind: type) -> bool:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return False
    return kind is date or len(text) > 10 or parsed != datetime.combine(parsed.date(), datetime.min.time())


def top_level_attack(route: Route, cast: Cast, plain_answer: Any) -> dict[str, Any]:
    answer = plain_answer if isinstance(plain_answer, dict) else {}
    return {
        name: attacker_value(name, field, answer.get(name), route, cast)
        for name, field in sorted(protected_fields(route).items())
    }


def nested_attack(body: dict[str, Any], cast: Cast) -> tuple[dict[str, Any], list[str]] | None:
    """The body with ``id``, ``company`` and ``created`` added to each object of its lists, and their paths."""
    attacked, paths = dict(body), []
    for name, value in body.items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            attacked[name] = [
                {**item, "id": 987654, "company": cast.company_b.pk, "created": ATTACK_TIME} for item in value
            ]
            paths += [
                f"{name}.{index}.{field}" for index in range(len(value)) for field in ("id", "company", "created")
            ]
    return (attacked, paths) if paths else None


# --- what company A holds ----------------------------------------------------------------------------------------
def _label(model: type[Model]) -> str:
    return model.__name__


def company_rows(company: Company) -> dict[str, tuple[type[Model], list[dict[str, Any]]]]:
    """Every row of ``company`` and every link between them, by model (the rows ``snapshot_of`` compares)."""
    found: dict[str, tuple[type[Model], list[dict[str, Any]]]] = {}
    for model in company_models():
        owned = model._default_manager.get_queryset().for_company(company)
        found[_label(model)] = (model, list(owned.order_by("pk").values()))
        for m2m in model._meta.many_to_many:
            through: Any = m2m.remote_field.through
            links = through.objects.filter(**{f"{m2m.m2m_field_name()}__in": owned})
            found[_label(through)] = (through, list(links.order_by("pk").values()))
    return found


UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _clean(value: Any, since: datetime) -> Any:
    """A stored value with what every call makes afresh (times from ``since`` on, random uuids) blanked."""
    if isinstance(value, datetime):
        return "<during the test>" if value >= since else value.isoformat()
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, uuid.UUID):
        return "<uuid>"
    if isinstance(value, dict):
        return {key: _clean(item, since) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item, since) for item in value]
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return UUID_TEXT.sub("<uuid>", value)
        if moment.tzinfo is not None and moment >= since:
            return "<during the test>"
    return value


def comparable_state(
    company: Company, before: dict[str, set[Any]], since: datetime, differs: dict[str, str]
) -> dict[str, list[str]]:
    """Company A's rows, comparable between two runs of the same call: ids of rows made by the call are
    ``<new>`` (in links too), encrypted columns are compared decrypted."""
    rows = company_rows(company)
    new = {label: {row["id"] for row in found} - before.get(label, set()) for label, (_m, found) in rows.items()}
    state: dict[str, list[str]] = {}
    for label, (model, found) in rows.items():
        links: dict[str, str] = {  # columns that hold ids of other rows
            f.attname: f.related_model.__name__
            for f in model._meta.concrete_fields
            if f.is_relation and isinstance(f.related_model, type)
        }
        cleaned = []
        for row in found:
            out: dict[str, Any] = {}
            for column, value in row.items():
                made_by_the_call = new[label] if column == "id" else new.get(links.get(column, ""), set())
                if f"{label}.{column}" in differs:
                    out[column] = "<differs every call>"
                elif (column == "id" or column in links) and value in made_by_the_call:
                    out[column] = "<new>"
                elif column.endswith("_encrypted") and value:
                    out[column] = _clean(decrypt(value), since)
                else:
                    out[column] = _clean(value, since)
            cleaned.append(json.dumps(out, sort_keys=True, default=str))
        state[label] = sorted(cleaned)
    return state


def row_ids(company: Company) -> dict[str, set[Any]]:
    return {label: {row["id"] for row in found} for label, (_m, found) in company_rows(company).items()}


class _Undo(Exception):
    pass


def undone(action: Callable[[], Any]) -> Any:
    """Run ``action`` and roll back everything it wrote; return what it returned."""
    kept: list[Any] = []
    try:
        with transaction.atomic():
            kept.append(action())
            raise _Undo
    except _Undo:
        pass
    return kept[0]


# The tracker's webhook body is whatever the tracker sends: stored as it came, never read as fields.
TAKES_ANY_BODY = {RECEIVE}


# --- the tests ---------------------------------------------------------------------------------------------------
def signed_in(route: Route, cast: Cast) -> APIClient:
    client = APIClient()
    if route.key != RECEIVE:  # a tracker signs its deliveries instead
        client.force_login(caller_of(route, cast))
    return client


def _answer(response: Any) -> Any:
    return response.json() if response.content and response["Content-Type"] == "application/json" else None


def _attacks(route: Route, cast: Cast, plain: Any) -> list[tuple[str, dict[str, Any], list[str]]]:
    body = valid_body(route, cast) or {}
    attacks: list[tuple[str, dict[str, Any], list[str]]] = [
        ("top level", {**body, **top_level_attack(route, cast, _answer(plain))}, [])
    ]
    if (nested := nested_attack(body, cast)) is not None:
        attacks.append(("in list items", *nested))
    return attacks


def _assert_answer_does_not_echo(attack: dict[str, Any], plain: Any, attacked: Any, where: str) -> None:
    plain_answer, answer = _answer(plain), _answer(attacked)
    if not isinstance(answer, dict) or not isinstance(plain_answer, dict):
        return
    echoed = [
        name
        for name, value in attack.items()
        if name in answer and answer[name] == value and plain_answer.get(name) != value
    ]
    assert echoed == [], f"{where}: the answer took the attacker's {echoed}"


@pytest.mark.parametrize("route", WRITES, ids=str)
def test_protected_fields_cannot_be_written(route: Route, cast: Cast, request: pytest.FixtureRequest):
    prepare(route, cast, request)
    client = signed_in(route, cast)  # once: signing in again would move last_login
    before_a, before_b = snapshot_of(cast.company_a), snapshot_of(cast.company_b)
    ids_before, since = row_ids(cast.company_a), timezone.now()
    differs = DIFFERS_EVERY_CALL.get(route.key, {})

    def run(body: dict[str, Any] | None, *, attack: bool) -> tuple[Any, Any, str]:
        """The answer, then company A (exact after a 400, comparable after a 2xx) and company B."""
        cache.clear()
        response = call(route, cast, body, client)
        if response.status_code == 400:
            return response, snapshot_of(cast.company_a), snapshot_of(cast.company_b)
        state = comparable_state(cast.company_a, ids_before, since, differs)
        return response, state, snapshot_of(cast.company_b) if attack else before_b

    plain, plain_state, _ = undone(lambda: run(valid_body(route, cast), attack=False))
    assert 200 <= plain.status_code < 300, ("the plain call must succeed", plain.status_code, plain.content[:300])

    for where, body, nested_paths in _attacks(route, cast, plain):
        response, state, after_b = undone(functools.partial(run, body, attack=True))
        label = f"{route}, attacker fields {where}"
        assert after_b == before_b, f"{label}: company B changed"
        if response.status_code == 400:
            assert state == before_a, f"{label}: a refused call changed company A"
            named = set(response.json()["fields"])
            expected = set(nested_paths) or set(body) - set(valid_body(route, cast) or {})
            assert expected <= named, f"{label}: the 400 does not name {sorted(expected - named)}"
            continue
        assert 200 <= response.status_code < 300, (label, response.status_code, response.content[:300])
        assert route.key in TAKES_ANY_BODY, (
            f"{label}: took a body with fields it does not take; docs/api.md says that is a 400 naming them"
        )
        changed = {table: rows for table, rows in state.items() if rows != plain_state.get(table)}
        assert changed == {}, f"{label}: company A differs from what the plain call stores"
        _assert_answer_does_not_echo(body, plain, response, label)


def test_every_write_route_is_attacked():
    expected = {route.key for route in api_routes() if route.method in {"POST", "PUT", "PATCH"}}
    assert {route.key for route in WRITES} == expected
    assert len(WRITES) == len(expected) > 0


def test_protected_fields_come_from_the_answer_and_the_schema():
    by_route = {str(route): protected_fields(route) for route in WRITES}
    assert {"id", "status", "closed_at", "created"} <= set(by_route["POST v1:cycle-close"])
    assert {"result", "check_ins"} <= set(by_route["POST v1:epic-results"])
    assert {"status", "started_at", "done_at", "review", "tracker_status"} <= set(by_route["PATCH v1:epic-detail"])
    assert {"user", "is_staff", "is_superuser"} <= set(by_route["PATCH v1:member-detail"])
    assert {"prefix", "key", "is_active", "revoked_at", "last_used_at"} <= set(by_route["POST v1:api-key-list"])
    assert {"progress", "status"} <= set(by_route["PATCH v1:objective-detail"])
    assert "role" not in by_route["PATCH v1:member-detail"]  # the route takes it
    assert "timezone" in by_route["PATCH v1:notification-preferences"]  # read-only in the serializer
    assert {"secret_hint", "secret"} <= set(by_route["POST v1:webhook-endpoint-list"])


@pytest.mark.parametrize("route", [route for route in WRITES if route.key not in TAKES_ANY_BODY], ids=str)
def test_fields_a_route_does_not_take_are_a_400_naming_them(route: Route, cast: Cast, request: pytest.FixtureRequest):
    """docs/api.md, "Writes": a body field the route does not take is a 400 naming it; nothing is silently
    dropped, commands that take no body included."""
    prepare(route, cast, request)
    client = signed_in(route, cast)
    plain = undone(lambda: call(route, cast, valid_body(route, cast), client))
    for where, body, _nested in _attacks(route, cast, plain):
        response = undone(functools.partial(call, route, cast, body, client))
        assert response.status_code == 400, (route, where, response.status_code, response.content[:200])
        assert set(body) - set(valid_body(route, cast) or {}) <= set(response.json()["fields"])


def test_attacker_times_are_before_any_test_time():
    assert datetime.fromisoformat(ATTACK_TIME) < datetime(2020, 1, 1, tzinfo=UTC)


def test_the_comparison_sees_a_protected_value_written_or_a_link_to_company_b(cast: Cast):
    from epics.models import Epic
    from okrs.models import Cycle

    ids, since = row_ids(cast.company_a), timezone.now()
    plain = undone(lambda: comparable_state(cast.company_a, ids, since, {}))
    cycle = cast.strategic_a["cycle"]

    def closed_in_2001() -> Any:
        Cycle.objects.filter(pk=cycle.pk).update(closed_at=datetime(2001, 2, 3, tzinfo=UTC))
        return comparable_state(cast.company_a, ids, since, {})

    def new_epic(owner: User) -> Any:
        Epic.objects.create(company=cast.company_a, title="Made by the call", owner=owner)
        return comparable_state(cast.company_a, ids, since, {})

    assert undone(closed_in_2001) != plain
    assert undone(lambda: new_epic(cast.member_a)) == undone(lambda: new_epic(cast.member_a))  # new ids blanked
    assert undone(lambda: new_epic(cast.member_a)) != undone(lambda: new_epic(cast.owner_b))

"""Plain SQL for the few hot reads where building and compiling an ORM query costs more than running it.

The cycle tree and the calibration read a fixed shape of rows on every request. Their querysets carry
several correlated subqueries, and Django spends longer resolving and compiling those on each request
than PostgreSQL spends executing the statement. ``select`` runs a constant statement instead and hands
back each column typed as the ORM would type it: every column names the model field whose type it has,
and that field's converters for the current database run on it (on SQLite, text and floats become
datetimes, dates, booleans and Decimals with the field's places; on PostgreSQL nothing needs converting).
Parameters are adapted the same way, so an aware datetime compares correctly on SQLite.

Statements use named parameters (``%(name)s``), which both PostgreSQL and SQLite take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.db.models.expressions import Col

Row = tuple[Any, ...]
_Converter = Callable[[Any], Any]


def select(sql: str, params: Mapping[str, Any], columns: Sequence[Field[Any, Any] | None]) -> list[Row]:
    """The rows of ``sql``, column i typed as the model field ``columns[i]`` (as the database gives it for None)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, {name: _adapt(value) for name, value in params.items()})
        rows = cursor.fetchall()
    converters = _converters(connection.vendor, tuple(columns))
    if not converters:
        return rows
    typed = []
    for row in rows:
        values = list(row)
        for index, convert in converters:
            values[index] = convert(values[index])
        typed.append(tuple(values))
    return typed


def fields(model: type[Model], *names: str) -> list[Field[Any, Any]]:
    """The fields ``names`` of ``model``, to type the columns ``select`` reads from them."""
    found = []
    for name in names:
        field = model._meta.get_field(name)
        if not isinstance(field, Field):
            raise TypeError(f"{model.__name__}.{name} is not a column")
        found.append(field)
    return found


def _adapt(value: Any) -> Any:
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return connection.ops.adapt_datefield_value(value)
    return value


@cache
def _converters(vendor: str, columns: tuple[Field[Any, Any] | None, ...]) -> list[tuple[int, _Converter]]:
    """(column index, converter) for each column whose values need converting on ``vendor``."""
    found = []
    for index, field in enumerate(columns):
        if field is None:
            continue
        expression = Col(field.model._meta.db_table, field)
        steps = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if steps:
            found.append((index, _chain(steps, expression)))
    return found


def _chain(steps: list[Any], expression: Col) -> _Converter:
    def convert(value: Any) -> Any:
        for step in steps:
            value = step(value, expression, connection)
        return value

    return convert

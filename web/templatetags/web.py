"""Small presentation helpers: percentages, numbers, status badges, progress bars and charts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join, json_script

register = template.Library()

EMPTY = "\N{EN DASH}"
STATUS_LABELS = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track"}


@register.filter
def percent(value: Any) -> str:
    """0.4567 -> "46 %"; nothing -> a dash."""
    if value is None or value == "":
        return EMPTY
    return f"{Decimal(str(value)) * 100:.0f} %"


@register.filter
def signed_percent(value: Any) -> str:
    if value is None:
        return EMPTY
    points = Decimal(str(value)) * 100
    return f"{points:+.0f} pts"


@register.filter
def num(value: Any) -> str:
    """A decimal without trailing zeros; nothing -> a dash."""
    if value is None or value == "":
        return EMPTY
    return f"{Decimal(str(value)).normalize():f}"


@register.filter
def humanise(value: Any) -> str:
    return str(value or "").replace("_", " ")


@register.filter
def get(mapping: Any, key: Any) -> Any:
    if not mapping:
        return None
    return mapping.get(key)


@register.simple_tag
def status_badge(status: str | None) -> str:
    """A status in words and colour: the words carry the meaning, the colour helps."""
    if not status:
        return format_html('<span class="badge badge-none">{}</span>', "No status")
    return format_html('<span class="badge badge-{}">{}</span>', status, STATUS_LABELS.get(status, status))


@register.simple_tag
def progress_bar(progress: Any, expected: Any, label: str) -> str:
    """A meter with the expected-progress marker; screen readers get the numbers."""
    shown = 0 if progress is None else max(0, min(100, round(float(progress) * 100)))
    marker = ""
    if expected is not None:
        where = max(0, min(100, round(float(expected) * 100)))
        marker = format_html(
            '<span class="expected" style="left: {}%" title="Expected by now: {} %"></span>', where, where
        )
    said = "no progress yet" if progress is None else f"{shown} %"
    return format_html(
        '<div class="bar" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="{}" aria-label="{}: {}">'
        '<span class="fill" style="width: {}%"></span>{}</div>',
        shown,
        label,
        said,
        shown,
        marker,
    )


@register.simple_tag
def chart(element_id: str, spec: dict[str, Any], label: str) -> str:
    """A canvas drawn by charts.js from the JSON beside it, and the same numbers as a table for everyone else."""
    data = json_script(spec, f"{element_id}-data")
    table = _table(spec)
    return format_html(
        '<figure class="chart"><div class="chart-box"><canvas id="{}" data-chart="{}-data" role="img" aria-label="{}">'
        "</canvas></div>"
        "<figcaption><details><summary>{} (table)</summary>{}</details></figcaption>{}</figure>",
        element_id,
        element_id,
        label,
        label,
        table,
        data,
    )


def _table(spec: dict[str, Any]) -> str:
    labels = spec.get("labels", [])
    series = spec.get("series") or [{"label": spec.get("label", "Value"), "values": spec.get("values", [])}]
    head = format_html('<tr><th scope="col"></th>{}</tr>', _cells("th", [s["label"] for s in series]))
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th>{}</tr>',
        ((label, _cells("td", [s["values"][i] for s in series])) for i, label in enumerate(labels)),
    )
    return format_html("<table><thead>{}</thead><tbody>{}</tbody></table>", head, rows)


def _cells(tag: str, values: list[Any]) -> str:
    cell = '<th scope="col">{}</th>' if tag == "th" else "<td>{}</td>"
    return format_html_join("", cell, ((value,) for value in values))

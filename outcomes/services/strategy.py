"""SWOT items, strategies and the investments behind them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

from outcomes.choices import StrategyStatus
from outcomes.models import BusinessOutcome, Company, Investment, Strategy, SwotItem
from outcomes.services.common import apply_changes, require_member_fields

SWOT_FIELDS = ("kind", "title", "description", "impact", "owner")
STRATEGY_FIELDS: tuple[str, ...] = (
    "title",
    "description",
    "rationale",
    "risks_and_assumptions",
    "horizon_start",
    "horizon_end",
)
STRATEGY_FIELDS += ("status", "owner")
INVESTMENT_FIELDS = ("strategy", "team", "amount", "currency", "period_start", "period_end", "note")


def _require_same_company(company: Company, field: str, rows: Iterable[Model | None]) -> None:
    if any(row is not None and getattr(row, "company_id", None) != company.pk for row in rows):
        raise ValidationError({field: "Must belong to the same company."})


# --- SWOT ----------------------------------------------------------------------------
@transaction.atomic
def swot_item_create(*, company: Company, **fields: Any) -> SwotItem:
    item = SwotItem(company=company)
    return swot_item_update(item=item, **fields)


@transaction.atomic
def swot_item_update(*, item: SwotItem, **changes: Any) -> SwotItem:
    apply_changes(item, SWOT_FIELDS, changes)
    require_member_fields(item, item.company, "owner")
    item.full_clean()
    item.save()
    return item


@transaction.atomic
def swot_item_delete(*, item: SwotItem) -> None:
    if item.strategies.exists():
        raise ValidationError("Strategies address this item: unlink it from them first.")
    item.delete()


# --- strategies ----------------------------------------------------------------------
def _check_horizon(start: date, end: date) -> None:
    if end <= start:
        raise ValidationError({"horizon_end": "Must be after horizon_start."})


@transaction.atomic
def strategy_create(*, company: Company, **fields: Any) -> Strategy:
    return strategy_update(strategy=Strategy(company=company), **fields)


@transaction.atomic
def strategy_update(
    *,
    strategy: Strategy,
    swot_items: Iterable[SwotItem] | None = None,
    business_outcomes: Iterable[BusinessOutcome] | None = None,
    **changes: Any,
) -> Strategy:
    """Change a strategy; ``swot_items`` and ``business_outcomes``, when given, replace its links."""
    was = Strategy.objects.filter(pk=strategy.pk).values_list("status", flat=True).first() if strategy.pk else None
    apply_changes(strategy, STRATEGY_FIELDS, changes)
    if was not in (None, StrategyStatus.DRAFT) and strategy.status == StrategyStatus.DRAFT:
        raise ValidationError({"status": "A strategy that was active stays out of draft: retire it instead."})
    require_member_fields(strategy, strategy.company, "owner")
    _check_horizon(strategy.horizon_start, strategy.horizon_end)
    links = {"swot_items": swot_items, "business_outcomes": business_outcomes}
    for field, rows in links.items():
        if rows is not None:
            _require_same_company(strategy.company, field, rows)
    strategy.full_clean()
    strategy.save()
    for field, rows in links.items():
        if rows is not None:
            getattr(strategy, field).set(list(rows))
    return strategy


@transaction.atomic
def strategy_delete(*, strategy: Strategy) -> None:
    """Only a draft nobody invested in can go; an active or retired strategy is retired instead."""
    if strategy.status != StrategyStatus.DRAFT:
        raise ValidationError({"status": "Only draft strategies can be deleted; retire this one instead."})
    if strategy.investments.exists():
        raise ValidationError("Money is allocated to this strategy: remove its investments first.")
    strategy.swot_items.clear()
    strategy.business_outcomes.clear()
    strategy.delete()


# --- investments ---------------------------------------------------------------------
@transaction.atomic
def investment_create(*, company: Company, **fields: Any) -> Investment:
    return investment_update(investment=Investment(company=company), **fields)


@transaction.atomic
def investment_update(*, investment: Investment, **changes: Any) -> Investment:
    apply_changes(investment, INVESTMENT_FIELDS, changes)
    _require_same_company(investment.company, "strategy", [investment.strategy if investment.strategy_id else None])
    _require_same_company(investment.company, "team", [investment.team if investment.team_id else None])
    if investment.period_start and investment.period_end and investment.period_end < investment.period_start:
        raise ValidationError({"period_end": "Must not be before period_start."})
    investment.full_clean()
    investment.save()
    return investment


@transaction.atomic
def investment_delete(*, investment: Investment) -> None:
    investment.delete()

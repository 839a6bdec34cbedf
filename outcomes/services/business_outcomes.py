from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from outcomes.choices import MeasurementSource
from outcomes.models import APIKey, BusinessOutcome, Company, Measurement, User
from outcomes.progress import target_problem
from outcomes.services.common import apply_changes, require_member_fields

FIELDS: tuple[str, ...] = ("title", "description", "category", "metric_name", "unit", "direction", "baseline", "target")
FIELDS += ("target_date", "owner")
FUTURE_TOLERANCE = timedelta(days=1)


@transaction.atomic
def business_outcome_create(*, company: Company, **fields: Any) -> BusinessOutcome:
    return business_outcome_update(outcome=BusinessOutcome(company=company), **fields)


@transaction.atomic
def business_outcome_update(*, outcome: BusinessOutcome, **changes: Any) -> BusinessOutcome:
    apply_changes(outcome, FIELDS, changes)
    require_member_fields(outcome, outcome.company, "owner")
    problem = target_problem(kind=outcome.direction, baseline=outcome.baseline, target=outcome.target)
    if problem:
        raise ValidationError({"target": problem})
    outcome.full_clean()
    outcome.save()
    return outcome


@transaction.atomic
def business_outcome_delete(*, outcome: BusinessOutcome) -> None:
    if outcome.measurements.exists():
        raise ValidationError("This outcome has measurements; they are history and stay.")
    outcome.strategies.clear()
    outcome.delete()


@transaction.atomic
def measurement_record(
    *,
    outcome: BusinessOutcome,
    value: Decimal,
    as_of: datetime | None = None,
    source: str = MeasurementSource.MANUAL,
    comment: str = "",
    author: User | None = None,
    api_key: APIKey | None = None,
) -> Measurement:
    """Record the metric's value as of a time. Corrections are new measurements; none is ever edited."""
    as_of = as_of or timezone.now()
    if as_of > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({"as_of": "Cannot be in the future."})
    measurement = Measurement(
        business_outcome=outcome,
        value=value,
        as_of=as_of,
        source=source,
        comment=comment,
        author=author,
        author_api_key_prefix=api_key.prefix if api_key else "",
    )
    measurement.full_clean()
    measurement.save()
    return measurement

"""``config.db.select``: plain SQL whose rows come back typed exactly as the ORM types them, on either database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from config.db import fields, select
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime(2027, 2, 14, 22, 30, 0, tzinfo=UTC)
LATER = datetime(2027, 2, 14, 22, 30, 0, 250_000, tzinfo=UTC)


@pytest.fixture
def key_result() -> KeyResult:
    company = CompanyFactory()
    owner = UserFactory()
    cycle = Cycle.objects.create(company=company, name="Q1", start=date(2027, 1, 1), end=date(2027, 3, 31))
    objective = Objective.objects.create(company=company, cycle=cycle, title="Grow", owner=owner, level="company")
    found = KeyResult.objects.create(
        company=company,
        objective=objective,
        title="Revenue",
        owner=owner,
        kind="increase_to",
        baseline=Decimal("1.5"),
        target=Decimal(10),
        next_checkin_due=LATER,
    )
    CheckIn.objects.create(key_result=found, as_of=AS_OF, value=Decimal("2.25"), confidence=Decimal("0.7"))
    CheckIn.objects.create(key_result=found, as_of=LATER, value=Decimal(3))
    return found


def _typed(row: tuple) -> list[tuple[object, type]]:
    return [(value, type(value)) for value in row]


def test_columns_come_back_as_the_orm_reads_them(key_result: KeyResult):
    names = ("id", "baseline", "target", "next_checkin_due", "current_value", "objective__cycle__start")
    sql = """
        SELECT k.id, k.baseline, k.target, k.next_checkin_due, k.current_value, y.start
        FROM okrs_keyresult k JOIN okrs_objective o ON o.id = k.objective_id JOIN okrs_cycle y ON y.id = o.cycle_id
        WHERE k.id = %(id)s
    """
    columns = [*fields(KeyResult, *names[:5]), *fields(Cycle, "start")]

    rows = select(sql, {"id": key_result.pk}, columns)

    assert [_typed(row) for row in rows] == [
        _typed(row) for row in KeyResult.objects.filter(pk=key_result.pk).values_list(*names)
    ]
    assert rows[0][3] == LATER  # an aware datetime, to the microsecond
    stored = KeyResult.objects.get(pk=key_result.pk)
    assert str(rows[0][1]) == str(stored.baseline)  # with the field's places, as the ORM shows it


def test_aggregates_and_booleans_take_the_type_of_the_field_named(key_result: KeyResult):
    sql = """
        SELECT MAX(c.value), MIN(c.confidence), o.grade_overridden, COUNT(*)
        FROM okrs_checkin c JOIN okrs_keyresult k ON k.id = c.key_result_id
        JOIN okrs_objective o ON o.id = k.objective_id WHERE k.id = %(kr)s GROUP BY o.grade_overridden
    """
    columns = [*fields(CheckIn, "value", "confidence"), *fields(Objective, "grade_overridden"), None]

    [(highest, lowest_confidence, overridden, count)] = select(sql, {"kr": key_result.pk}, columns)

    assert (highest, lowest_confidence, overridden, count) == (Decimal(3), Decimal("0.7"), False, 2)
    assert (type(highest), type(lowest_confidence), type(overridden)) == (Decimal, Decimal, bool)


@pytest.mark.parametrize(
    ("moment", "at_or_before", "before"),
    [
        (AS_OF, 1, 0),  # equal to the second, no fraction on either side
        (LATER, 2, 1),  # equal to the microsecond
        (LATER - timedelta(microseconds=1), 1, 1),
        (AS_OF.astimezone(ZoneInfo("Europe/Berlin")), 1, 0),  # the same instant in another zone
    ],
)
def test_an_aware_datetime_parameter_compares_exactly(key_result: KeyResult, moment, at_or_before, before):
    sql = "SELECT COUNT(*) FROM okrs_checkin WHERE key_result_id = %(kr)s AND as_of {} %(at)s"
    count = [None]

    def counted(op: str) -> int:
        return select(sql.format(op), {"kr": key_result.pk, "at": moment}, count)[0][0]

    assert (counted("<="), counted("<")) == (at_or_before, before)
    assert counted("<=") == key_result.check_ins.filter(as_of__lte=moment).count()
    assert counted("<") == key_result.check_ins.filter(as_of__lt=moment).count()


def test_a_date_parameter_compares_as_a_date(key_result: KeyResult):
    sql = 'SELECT COUNT(*) FROM okrs_cycle WHERE id = %(cycle)s AND start <= %(day)s AND "end" >= %(day)s'
    cycle = key_result.objective.cycle_id
    assert select(sql, {"cycle": cycle, "day": date(2027, 3, 31)}, [None]) == [(1,)]
    assert select(sql, {"cycle": cycle, "day": date(2027, 4, 1)}, [None]) == [(0,)]


def test_only_columns_can_type_a_result():
    assert [field.name for field in fields(KeyResult, "objective", "title")] == ["objective", "title"]
    with pytest.raises(TypeError, match=r"KeyResult\.check_ins is not a column"):
        fields(KeyResult, "check_ins")

"""Rules that only hold under real concurrency, proven on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from outcomes.choices import Role
from outcomes.models import Membership
from outcomes.services.members import membership_change_role, membership_remove
from tests.factories import CompanyFactory, MembershipFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(*actions):
    """Run the actions at the same moment in their own threads and connections."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[object] = [None] * len(actions)

    def run(index: int, action) -> None:
        try:
            barrier.wait(timeout=10)
            action()
            outcomes[index] = "ok"
        except ValidationError as error:
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_runs_on_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize("attempt", range(3))
def test_two_owners_removing_each_other_at_once_leave_one_owner(attempt):
    company = CompanyFactory()
    first, second = (MembershipFactory(company=company, role=Role.OWNER) for _ in range(2))

    outcomes = _race(
        lambda: membership_remove(membership=Membership.objects.get(pk=first.pk), actor_role=Role.OWNER),
        lambda: membership_remove(membership=Membership.objects.get(pk=second.pk), actor_role=Role.OWNER),
    )

    assert sorted(str(type(o).__name__) for o in outcomes) == ["ValidationError", "str"]
    assert Membership.objects.owners().filter(company=company).count() == 1


def test_concurrent_demotions_keep_an_owner():
    company = CompanyFactory()
    owners = [MembershipFactory(company=company, role=Role.OWNER) for _ in range(2)]

    _race(
        *[
            (
                lambda m=m: membership_change_role(
                    membership=Membership.objects.get(pk=m.pk), role=Role.ADMIN, actor_role=Role.OWNER
                )
            )
            for m in owners
        ]
    )

    assert Membership.objects.owners().filter(company=company).count() == 1

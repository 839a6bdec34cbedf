from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from outcomes.choices import Role
from outcomes.models import Company, Membership, User
from outcomes.services.common import apply_changes

UPDATABLE_FIELDS = ("name", "timezone")


def _free_slug(name: str) -> str:
    base = slugify(name)[:50] or "company"
    slug, suffix = base, 2
    while Company.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


@transaction.atomic
def company_create(*, name: str, owner: User, slug: str = "", timezone: str = "UTC") -> Company:
    """Create a company with ``owner`` as its first owner."""
    company = Company(name=name, slug=slug.lower() or _free_slug(name), timezone=timezone)
    company.full_clean()
    company.save()
    Membership.objects.create(user=owner, company=company, role=Role.OWNER)
    return company


@transaction.atomic
def company_update(*, company: Company, **changes: str) -> Company:
    apply_changes(company, UPDATABLE_FIELDS, changes)
    company.full_clean()
    company.save()
    return company

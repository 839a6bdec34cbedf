from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from outcomes.models import APIKey, Company, IdentityVersion, User

MAX_VALUES = 20


def current_identity(company: Company) -> IdentityVersion | None:
    return IdentityVersion.objects.for_company(company).order_by("-number").first()


def _clean_values(values: list[dict[str, Any]]) -> list[dict[str, str]]:
    if len(values) > MAX_VALUES:
        raise ValidationError({"values": f"At most {MAX_VALUES} values."})
    cleaned = [{"name": str(v["name"]).strip(), "description": str(v.get("description", "")).strip()} for v in values]
    names = [value["name"].casefold() for value in cleaned]
    if len(set(names)) != len(names):
        raise ValidationError({"values": "Each value needs its own name."})
    return cleaned


@transaction.atomic
def identity_update(
    *,
    company: Company,
    mission: str,
    vision: str,
    values: list[dict[str, Any]],
    change_note: str = "",
    author: User | None = None,
    api_key: APIKey | None = None,
) -> IdentityVersion:
    """Write the company's identity as a new version; an unchanged identity adds none."""
    Company.objects.select_for_update().filter(pk=company.pk).first()  # one version number at a time
    latest = current_identity(company)
    mission, vision, cleaned = mission.strip(), vision.strip(), _clean_values(values)
    if latest is not None and (latest.mission, latest.vision, latest.values) == (mission, vision, cleaned):
        return latest
    version = IdentityVersion(
        company=company,
        number=(latest.number + 1) if latest else 1,
        mission=mission,
        vision=vision,
        values=cleaned,
        change_note=change_note,
        author=author,
        author_api_key_prefix=api_key.prefix if api_key else "",
    )
    version.full_clean()
    version.save()
    return version

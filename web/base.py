"""The one place web pages find the company of the URL and the visitor's role in it.

A company the visitor is not a member of is a 404, exactly like one that does not exist, as in the API.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils import timezone
from django.views import View

from outcomes.models import Company, User
from outcomes.selectors import CompanyAccess, company_access_for_user


class CompanyPage(LoginRequiredMixin, View):
    access: CompanyAccess
    section = ""  # which navigation entry is current

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return super().dispatch(request, *args, **kwargs)  # to the sign-in page
        access = company_access_for_user(user=request.user, company_slug=kwargs["company_slug"])
        if access is None:
            raise Http404("No such company.")
        self.access = access
        with timezone.override(self.zone):  # times show as the company's people live them
            return super().dispatch(request, *args, **kwargs)

    @property
    def company(self) -> Company:
        return self.access.company

    @property
    def person(self) -> User:
        assert self.access.user is not None
        return self.access.user

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.company.timezone)

    def today(self) -> Any:
        return timezone.localdate(timezone=self.zone)

    def require(self, allowed: bool, why: str) -> None:
        if not allowed:
            raise PermissionDenied(why)

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"company": self.company, "role": self.access.role, "section": self.section, **extra}

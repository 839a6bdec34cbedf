"""Signing in and out of the web pages, with failed attempts limited per address and e-mail."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, LogoutView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

MAX_FAILURES = 5  # failed sign-ins per address and e-mail ...
FAILURE_WINDOW = 15 * 60  # ... within this many seconds; then wait for the window to pass


def _key(request: HttpRequest, username: str) -> str:
    who = f"{request.META.get('REMOTE_ADDR', '')}|{username.strip().casefold()}"
    return "signin-failures:" + hashlib.sha256(who.encode()).hexdigest()


class SignInForm(AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        assert self.request is not None
        key = _key(self.request, self.data.get("username", ""))
        if (cache.get(key) or 0) >= MAX_FAILURES:
            self.locked = True
            raise ValidationError("Too many failed attempts: wait 15 minutes and try again.", code="throttled")
        try:
            return super().clean()
        except ValidationError:
            cache.add(key, 0, FAILURE_WINDOW)
            try:
                cache.incr(key)
            except ValueError:  # expired between the two calls
                cache.set(key, 1, FAILURE_WINDOW)
            raise


class SignInView(LoginView):
    template_name = "web/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "locked", False):
            response.status_code = 429
            response["Retry-After"] = str(FAILURE_WINDOW)
        return response


class SignOutView(LogoutView):
    pass

"""API key authentication: ``Authorization: Bearer okr_…``."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from outcomes import keys
from outcomes.models import APIKey
from outcomes.services.api_keys import api_key_authenticate

# Query parameters that clients commonly (and wrongly) use to pass credentials.
CREDENTIAL_PARAMS = frozenset({"api_key", "apikey", "key", "token", "access_token", "auth", "authorization"})


def _refuse_credentials_in_query(request: Request) -> None:
    params = request.query_params
    if CREDENTIAL_PARAMS.intersection(name.lower() for name in params) or any(
        keys.looks_like_key(value) for _, values in params.lists() for value in values
    ):
        raise AuthenticationFailed("API keys are not accepted in the query string; send 'Authorization: Bearer <key>'.")


class APIKeyAuthentication(BaseAuthentication):
    """Authenticates machines by API key. The caller becomes anonymous with ``request.auth`` set to the key."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, APIKey] | None:
        _refuse_credentials_in_query(request)
        scheme, _, credential = get_authorization_header(request).decode("latin-1").partition(" ")
        if scheme.lower() != "bearer":
            return None
        credential = credential.strip()
        if not credential:
            raise AuthenticationFailed("The Authorization header has no key after 'Bearer'.")
        check = api_key_authenticate(raw=credential)
        if check.api_key is None:
            raise AuthenticationFailed(check.problem)
        return AnonymousUser(), check.api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

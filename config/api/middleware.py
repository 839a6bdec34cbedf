"""Middleware for the API's responses."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ReleaseRenderedResponseMiddleware:
    """Free what a DRF response was rendered from as soon as the server lets go of the response.

    DRF links a response to its view both ways: the view keeps ``view.response``, and the response
    keeps ``renderer_context`` with the view and the response itself. That reference cycle holds the
    answer's data (for the delivery roll-up of a big company, hundreds of thousands of objects) until
    the garbage collector happens to find it, and every collection before then walks all of it again.
    Once the response is rendered only its bytes are sent, so the links are cut here and reference
    counting frees the data when the response goes.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        context = getattr(response, "renderer_context", None)
        if isinstance(context, dict) and getattr(response, "is_rendered", True):
            view = context.pop("view", None)
            if getattr(view, "response", None) is response:
                view.response = None
            context.pop("response", None)
        return response

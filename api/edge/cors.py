"""Starlette's CORS middleware with its refusals in the error body.

A preflight for an origin, method or header that is not allowed is answered 400 by
Starlette in plain text ("Disallowed CORS origin, method"); every other error of the
gateway is JSON `{error, detail, request_id}`, so the refusal is rendered as
`CorsRefused` instead, with the same CORS headers Starlette sends.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from spectrum.api.edge.errors import render
from spectrum.shared.errors import CorsRefused

# Starlette's own framing of the refusal: the JSON body gets a length and type of its own.
_FRAMING = {"content-length", "content-type"}


class Cors(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers=request_headers)
        if answer.status_code != 400:
            return answer
        detail = bytes(answer.body).decode("utf-8", "replace")
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _FRAMING}
        return render(CorsRefused(f"{detail}; allowed origins: see SPECTRUM_CORS_ORIGINS"), headers)

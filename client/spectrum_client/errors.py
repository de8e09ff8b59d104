"""SpectrumError: an error answer from the API, read from its body whatever its age.

The body is `{"error", "detail"}`; newer servers add `request_id` (also sent as the
X-Request-ID header, which is read when the body has none) and, for a request that
breaks the contract, `errors`: a list of `{loc, msg}`. Both are optional here, and
a body that is not JSON at all still becomes a SpectrumError.
"""

from __future__ import annotations

from typing import Any

import httpx


class SpectrumError(Exception):
    """An error answer from the API: its HTTP status, error class, detail and request id."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        request_id: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.request_id = request_id  # quote it to whoever runs the server: it is in their logs
        self.errors: list[dict[str, Any]] = errors or []


def error_of(answer: httpx.Response) -> SpectrumError:
    """The SpectrumError an answer that is not a success stands for."""
    request_id = answer.headers.get("X-Request-ID")
    try:
        body = answer.json()
        error, detail = str(body["error"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        return SpectrumError(
            answer.status_code, "HTTPError", answer.text[:500], request_id=request_id
        )
    errors = body.get("errors")
    return SpectrumError(
        answer.status_code,
        error,
        detail,
        request_id=str(body.get("request_id") or request_id or "") or None,
        errors=[item for item in errors if isinstance(item, dict)]
        if isinstance(errors, list)
        else None,
    )


def raise_for(answer: httpx.Response) -> None:
    """Nothing for a success; the answer's SpectrumError otherwise (its body must be read)."""
    if not answer.is_success:
        raise error_of(answer)

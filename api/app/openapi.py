"""The OpenAPI document: operation ids for generated clients, the key schemes the gate checks.

The gate (api/edge/guard.py) checks keys in a pure ASGI middleware, so FastAPI
knows nothing of them; the schemes are declared here on every operation the
gate guards, so /docs shows Authorize and "Try it out" sends the key. The
declaration documents; it checks nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from spectrum.api.edge.guard import guarded

SCHEMES: dict[str, dict[str, str]] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key (python -m spectrum.api.edge.keys makes one).",
    },
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same API key, sent as Authorization: Bearer <key>.",
    },
}


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase: predict, submitJob, getJobResults, listModels."""
    first, *rest = route.name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def declare_keys(schema: dict[str, Any], *, keys_on: bool) -> None:
    """Add the key schemes to `schema`, required by every guarded operation when keys are on.

    With keys off a key is accepted and ignored: the empty requirement `{}` says
    that no key is also fine.
    """
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SCHEMES)
    requirement: list[dict[str, list[str]]] = [{name: []} for name in SCHEMES]
    if not keys_on:
        requirement.append({})
    for path, operations in schema.get("paths", {}).items():
        if guarded(path):
            for operation in operations.values():
                operation["security"] = requirement


def install_openapi(app: FastAPI, *, keys_on: bool) -> None:
    """Make `app.openapi()` build FastAPI's document once, with the key schemes declared."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # FastAPI keeps it as app.openapi_schema: declared once
        declare_keys(schema, keys_on=keys_on)
        return schema

    # FastAPI's documented way to extend the document: replace the method.
    app.openapi = openapi  # type: ignore[method-assign]

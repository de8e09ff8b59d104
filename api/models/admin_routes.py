"""GET/PUT /v1/admin/aliases: read and replace the live alias set, without a restart.

PUT stores the document in the result backend (`spectrum:aliases`), so every
gateway process picks it up at its next catalog refresh (within a second); it
needs API keys on (the gate has checked the caller's key by the time the route
runs): with keys off anyone could move traffic, so it is refused with 403.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from spectrum.api.app.resources import ResourcesDep
from spectrum.api.edge.errors import documented
from spectrum.api.edge.keys import KeyRing
from spectrum.api.models.aliases import InvalidAliases, aliases_document, parse_aliases
from spectrum.shared.errors import BackendUnavailable, Forbidden, InvalidInput
from spectrum.shared.registry import ALIASES_KEY

router = APIRouter(prefix="/v1/admin", tags=["admin"])

EXAMPLE = {
    "sentiment": {
        "targets": {"sentiment-minilm": 90, "sentiment-minilm-v2": 10},
        "shadow": {"model": "sentiment-vader", "share": 0.2},
    }
}


class AliasesBody(BaseModel):
    source: str = Field(description="admin (PUT), file, env or none: where the live set is from.")
    aliases: dict[str, Any] = Field(description="The live aliases document.")


@router.get("/aliases", response_model=AliasesBody, responses={**documented(401, 429, 503)})
async def get_aliases(resources: ResourcesDep) -> AliasesBody:
    """Show the live alias set and where it came from."""
    view = await resources.models.view(fresh=True)
    configured = view.alias_set
    return AliasesBody(source=configured.source, aliases=aliases_document(configured.aliases))


@router.put(
    "/aliases",
    response_model=AliasesBody,
    responses={**documented(400, 401, 403, 413, 422, 429, 503)},
)
async def put_aliases(
    resources: ResourcesDep,
    document: Annotated[dict[str, Any], Body(openapi_examples={"canary": {"value": EXAMPLE}})],
) -> AliasesBody:
    """Replace the live alias set for every gateway (needs API keys on)."""
    if not KeyRing.from_settings(resources.settings).enabled:
        raise Forbidden("PUT /v1/admin/aliases needs API keys on (SPECTRUM_API_KEY_HASHES)")
    view = await resources.models.view(fresh=True)
    try:
        aliases = parse_aliases(document, models=view.cards)
    except InvalidAliases as exc:
        raise InvalidInput(f"aliases: {exc}") from None
    stored = json.dumps(aliases_document(aliases), separators=(",", ":"))
    try:
        await resources.backend.set(ALIASES_KEY, stored)
    except (aioredis.RedisError, OSError) as exc:
        raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
    view = await resources.models.view(fresh=True)
    configured = view.alias_set
    return AliasesBody(source=configured.source, aliases=aliases_document(configured.aliases))

"""Dependencies routes ask for; the objects themselves are built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from celery import Celery
from fastapi import Depends, Request

from api.jobs import JobService
from api.metrics import ScrapeProbe
from api.predictor import Predictor
from api.served_models import ServedModels
from shared.config import Settings


@dataclass
class Resources:
    settings: Settings
    celery: Celery
    backend: aioredis.Redis
    models: ServedModels
    predictor: Predictor
    probe: ScrapeProbe
    jobs: JobService


async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]

"""Dependencies routes ask for; the objects themselves are built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from celery import Celery
from fastapi import Depends, Request

from api.jobs.service import JobService
from api.models.served import ServedModels
from api.observability.metrics import ScrapeProbe
from api.predict.predictor import Predictor
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

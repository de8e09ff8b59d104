"""The bodies of the health probes."""

from __future__ import annotations

from pydantic import BaseModel


class HealthBody(BaseModel):
    status: str


class ReadinessBody(BaseModel):
    status: str
    checks: dict[str, str]

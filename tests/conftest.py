from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.config import ENV_FILE_VARIABLE
from tests.tiny_model import build_tiny_distilbert

# A developer's .env in the checkout must not change what the tests see: no Settings()
# built in this process or in a child that inherits its environment reads one.
os.environ[ENV_FILE_VARIABLE] = ""


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_distilbert(tmp_path_factory.mktemp("tiny-distilbert"))

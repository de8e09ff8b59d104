from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.config import Settings


def test_model_name_is_derived_from_the_model_id() -> None:
    assert Settings(model_id="vader").served_model_name == "vader"
    assert Settings(model_id="/opt/models/My Model/").served_model_name == "my-model"
    hub = Settings(model_id="distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    assert hub.served_model_name == "distilbert-base-uncased-finetuned-sst-2-english"
    assert Settings(model_id="x", model_name="sentiment").served_model_name == "sentiment"


def test_the_interactive_queue_is_per_model() -> None:
    assert Settings(model_name="sentiment").interactive_queue == "sentiment.interactive"


def test_the_shipped_model_is_the_default() -> None:
    settings = Settings()
    assert settings.model_id == "models/sentiment-minilm"
    assert settings.served_model_name == "sentiment-minilm"
    assert not settings.uses_lexicon


def test_runtime_choice() -> None:
    assert Settings(model_id="vader").uses_lexicon
    assert not Settings(model_id="/models/minilm").uses_lexicon
    assert Settings(model_id="/models/minilm", runtime="lexicon").uses_lexicon


def test_result_backend_must_be_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRUM_RESULT_BACKEND_URL", "amqp://guest@localhost//")
    with pytest.raises(ValidationError, match="Redis URL"):
        Settings()


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRUM_MAX_TEXTS_PER_REQUEST", "7")
    monkeypatch.setenv("SPECTRUM_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    settings = Settings()
    assert settings.max_texts_per_request == 7
    assert settings.broker_url.startswith("amqp://")


def test_dashboard_links_are_optional_http_urls() -> None:
    assert Settings().flower_url is None
    assert Settings(grafana_url="").grafana_url is None
    assert Settings(flower_url="http://127.0.0.1:5555/").flower_url == "http://127.0.0.1:5555/"
    with pytest.raises(ValidationError, match="http"):
        Settings(grafana_url="javascript:alert(1)")

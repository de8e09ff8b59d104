from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from spectrum.shared.config import ENV_FILE_VARIABLE, Settings


def test_model_name_is_derived_from_the_model_id() -> None:
    assert Settings(model_id="vader").served_model_name == "vader"
    assert Settings(model_id="/opt/models/My Model/").served_model_name == "my-model"
    hub = Settings(model_id="distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    assert hub.served_model_name == "distilbert-base-uncased-finetuned-sst-2-english"
    assert Settings(model_id="x", model_name="sentiment").served_model_name == "sentiment"


def test_the_interactive_queue_is_per_model() -> None:
    assert Settings(model_name="sentiment").interactive_queue == "sentiment.interactive"


def test_lanes_interactive_first() -> None:
    settings = Settings(model_name="sentiment")
    assert settings.bulk_queue == "sentiment.bulk"
    assert settings.worker_queues == ["sentiment.interactive", "sentiment.bulk"]
    only = Settings(model_name="sentiment", worker_lanes="interactive")
    assert only.worker_queues == ["sentiment.interactive"]


def test_at_least_one_started_worker_takes_the_bulk_lane() -> None:
    assert Settings(worker_processes=2, worker_interactive_only=1).interactive_only_workers == 1
    assert Settings(worker_processes=1, worker_interactive_only=1).interactive_only_workers == 0
    assert Settings(worker_processes=4, worker_interactive_only=9).interactive_only_workers == 3


def test_workers_on_the_bulk_lane_prefetch_only_what_they_run() -> None:
    from spectrum.shared.celery_app import create_celery

    both = create_celery(Settings(worker_prefetch=2))
    interactive = create_celery(Settings(worker_prefetch=2, worker_lanes="interactive"))
    try:
        assert both.conf.worker_prefetch_multiplier == 1
        assert interactive.conf.worker_prefetch_multiplier == 2
        assert both.conf.broker_transport_options["queue_order_strategy"] == "priority"
    finally:
        both.close()
        interactive.close()


def test_the_shipped_model_is_the_default() -> None:
    settings = Settings()
    assert settings.model_id == "models/sentiment-minilm"
    assert settings.served_model_name == "sentiment-minilm"
    assert settings.model_list == ["models/sentiment-minilm", "toxicity", "emotion"]


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


def test_rate_limits_are_per_key_by_default_and_off_for_anonymous_callers() -> None:
    defaults = Settings()
    assert defaults.rate_limit(keys_on=True) == (50.0, 100)
    assert defaults.rate_limit(keys_on=False) is None
    tuned = Settings(
        rate_limit_per_s=0, rate_limit_anonymous_per_s=20, rate_limit_anonymous_burst=40
    )
    assert tuned.rate_limit(keys_on=True) is None
    assert tuned.rate_limit(keys_on=False) == (20.0, 40)


def test_a_dotenv_file_in_the_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "SPECTRUM_MAX_TEXT_CHARS=123\nSPECTRUM_MODEL_ID=vader\nOTHER=ignored\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_FILE_VARIABLE)  # the tests' own switch-off (tests/conftest.py)
    monkeypatch.setenv("SPECTRUM_MODEL_ID", "from-the-environment")
    settings = Settings()
    assert settings.max_text_chars == 123
    assert settings.model_id == "from-the-environment"  # the environment wins over the file
    assert Settings(max_text_chars=5).max_text_chars == 5


def test_the_env_file_can_be_named_or_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("SPECTRUM_MAX_TEXT_CHARS=123\n", encoding="utf-8")
    (tmp_path / "staging.env").write_text("SPECTRUM_MAX_TEXT_CHARS=77\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_FILE_VARIABLE, "staging.env")
    assert Settings().max_text_chars == 77
    monkeypatch.setenv(ENV_FILE_VARIABLE, "")
    assert Settings().max_text_chars == 4000


def test_the_tests_ignore_a_stray_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SPECTRUM_API_KEYS=stray\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert Settings().api_keys is None

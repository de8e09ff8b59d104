"""Per-model hyper-parameters: MiniLM keeps what `make model` built; the teacher has its own."""

from __future__ import annotations

from pathlib import Path

from training.build import command_line
from training.specs import SPECS
from training.train import TrainConfig


def test_minilm_keeps_the_defaults_make_model_has_always_used() -> None:
    spec = SPECS["minilm"]
    assert spec.config() == TrainConfig()
    assert spec.out == Path("models/sentiment-minilm")


def test_the_teacher_has_its_own_folder_and_hyper_parameters() -> None:
    spec = SPECS["mpnet"]
    config = spec.config(bf16_autocast=True)
    assert spec.out == Path("models/sentiment-mpnet")
    assert (config.epochs, config.learning_rate, config.batch_size, config.max_length) == (
        2,
        2e-5,
        32,
        64,
    )
    assert config.bf16_autocast
    assert config.seed == TrainConfig().seed


def test_given_options_override_the_spec_and_absent_ones_do_not() -> None:
    config = SPECS["mpnet"].config(epochs=3, learning_rate=None, batch_size=16, max_length=None)
    assert (config.epochs, config.learning_rate, config.batch_size, config.max_length) == (
        3,
        2e-5,
        16,
        64,
    )


def test_the_card_names_the_make_target_that_rebuilds_it() -> None:
    assert command_line([]) == "make model"
    assert command_line(["--epochs", "2"]) == "make model ARGS='--epochs 2'"
    assert command_line(["--teacher"]) == "make teacher"
    assert command_line(["--teacher", "--epochs", "3"]) == "make teacher ARGS='--epochs 3'"

"""A model directory's version: the files that decide its answers, and only those."""

from __future__ import annotations

from pathlib import Path

from spectrum.worker.runtimes.model_dir import card_facts, directory_version


def model_dir(where: Path, *, weights: bool) -> Path:
    where.mkdir()
    (where / "config.json").write_text('{"id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}')
    (where / "openvino_model.xml").write_text("<net/>")
    (where / "openvino_model.bin").write_bytes(b"ir weights")
    if weights:
        (where / "model.safetensors").write_bytes(b"torch weights")
    return where


def test_the_ir_counts_only_where_it_is_the_only_weights(tmp_path: Path) -> None:
    with_weights = model_dir(tmp_path / "a", weights=True)
    ir_only = model_dir(tmp_path / "b", weights=False)
    before = directory_version(with_weights), directory_version(ir_only)

    for where in (with_weights, ir_only):
        (where / "openvino_model.bin").write_bytes(b"other ir weights")
        (where / "model_card.json").write_text('{"summary": "documentation"}')

    assert directory_version(with_weights) == before[0]  # converted from the weights
    assert directory_version(ir_only) != before[1]  # a quantized IR is the model


def test_a_card_declares_the_aliases_its_model_answers_to(tmp_path: Path) -> None:
    where = model_dir(tmp_path / "m", weights=False)
    assert card_facts(where) == {}
    (where / "model_card.json").write_text('{"summary": "s", "aliases": ["fast"]}')
    assert card_facts(where) == {"description": "s", "metrics": {}, "aliases": ["fast"]}

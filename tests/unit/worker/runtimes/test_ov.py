"""The OpenVINO runtime serves the IR `make model` writes, with the answers PyTorch gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import choose_runtime

pytest.importorskip("openvino")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def exported(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.export import export_openvino

    model_dir = tmp_path_factory.mktemp("ov") / "tiny"
    shutil.copytree(tiny_model_dir, model_dir)
    export_openvino(model_dir, tmp_path_factory.mktemp("export"))
    return model_dir


def test_auto_picks_openvino_only_where_there_is_an_ir(
    exported: Path, tiny_model_dir: Path
) -> None:
    assert choose_runtime(Settings(model_id=str(exported))) == "openvino"
    assert choose_runtime(Settings(model_id=str(tiny_model_dir))) == "torch"
    assert choose_runtime(Settings(model_id=str(exported), runtime="torch")) == "torch"
    assert choose_runtime(Settings(model_id="vader")) == "lexicon"


def test_openvino_f32_matches_torch_fp32(exported: Path) -> None:
    from spectrum.worker.runtimes.hf import load_torch
    from spectrum.worker.runtimes.ov import load_openvino

    texts = ["the movie was great", "awful boring plot , not good", "i", "we love it " * 12]
    ov_runtime, card = load_openvino(
        exported, "tiny", precision="fp32", threads=1, max_tokens=64, batch_size=2
    )
    torch_runtime, torch_card = load_torch(
        str(exported), "tiny", precision="fp32", threads=1, max_tokens=64
    )
    assert card.runtime == "openvino-fp32-cpu"
    assert card.labels == torch_card.labels
    assert card.version == torch_card.version  # the IR does not change the model's identity
    for got, want in zip(ov_runtime.predict(texts), torch_runtime.predict(texts), strict=True):
        # fp16-compressed weights in the IR: close to fp32, not bit-identical.
        assert got == pytest.approx(want, abs=2e-3)


def test_openvino_divides_the_logits_by_the_directory_temperature(
    exported: Path, tmp_path: Path
) -> None:
    import json

    import numpy as np

    from spectrum.worker.runtimes.model_dir import CALIBRATION_FILE
    from spectrum.worker.runtimes.ov import load_openvino

    sharp = tmp_path / "sharp"
    shutil.copytree(exported, sharp)
    (sharp / CALIBRATION_FILE).write_text(json.dumps({"temperature": 0.05}))
    texts = ["the movie was great", "awful boring plot , not good", "i"]
    plain, plain_card = load_openvino(
        exported, "tiny", precision="fp32", threads=1, max_tokens=64, batch_size=4
    )
    calibrated, card = load_openvino(
        sharp, "tiny", precision="fp32", threads=1, max_tokens=64, batch_size=4
    )
    assert card.version != plain_card.version
    logits = np.log(np.asarray(plain.predict(texts), dtype=np.float64)) / 0.05
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    got = np.asarray(calibrated.predict(texts))
    assert got == pytest.approx(want, abs=1e-3)
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()


def test_widths_rounded_to_a_multiple_change_no_answer(exported: Path) -> None:
    from spectrum.worker.runtimes.ov import auto_pad_multiple, load_openvino

    texts = ["the movie was great", "awful boring plot , not good", "i", "we love it " * 12]
    plain, _ = load_openvino(
        exported, "tiny", precision="fp32", threads=1, max_tokens=64, batch_size=2, pad_multiple=1
    )
    rounded, _ = load_openvino(
        exported, "tiny", precision="fp32", threads=1, max_tokens=64, batch_size=2, pad_multiple=16
    )
    widths: list[int] = []
    forward = rounded._run

    def seen(feeds: dict[str, object]) -> object:
        widths.append(feeds["input_ids"].shape[1])  # type: ignore[attr-defined]
        return forward(feeds)  # type: ignore[arg-type]

    rounded._run = seen  # type: ignore[method-assign]
    got = rounded.predict(texts)

    assert widths
    assert all(w % 16 == 0 or w == 64 for w in widths)
    for mine, want in zip(got, plain.predict(texts), strict=True):
        assert mine == pytest.approx(want, abs=1e-4)  # the attention mask hides the padding
    assert (auto_pad_multiple("bf16"), auto_pad_multiple("fp32")) == (16, 1)


def test_a_small_pass_runs_wide_where_the_cores_are_free_with_the_same_answers(
    exported: Path, tmp_path: Path
) -> None:
    from spectrum.worker.runtimes.cores import CoreLeases
    from spectrum.worker.runtimes.ov import CoreSharing, load_openvino

    texts = ["the movie was great", "awful boring plot , not good", "i", "we love it " * 12]
    leases = CoreLeases(tmp_path / "cores", 2)
    sharing = CoreSharing(share=1, wide=2, wide_tokens=16, leases=leases)
    shared, _ = load_openvino(
        exported, "tiny", precision="fp32", threads=1, max_tokens=64, batch_size=1, sharing=sharing
    )
    alone, _ = load_openvino(
        exported, "tiny", precision="fp32", threads=1, max_tokens=64, batch_size=1
    )
    counts: list[int] = []
    hold = leases.hold

    def seen(share: int, wide: int):  # type: ignore[no-untyped-def]
        counts.append(wide)
        return hold(share, wide)

    leases.hold = seen  # type: ignore[method-assign]
    got = shared.predict(texts)

    assert sorted(shared._requests) == [1, 2]  # one compiled variant a thread count
    assert counts == [2, 2, 2, 1]  # the 31-token text is past wide_tokens: its share
    for mine, want in zip(got, alone.predict(texts), strict=True):
        assert mine == pytest.approx(want, abs=1e-4)

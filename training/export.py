"""Write the OpenVINO IR the worker serves, converted from the model's own PyTorch weights."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from training.runtimes import Unavailable, _export_onnx, _Setup
from worker.runtimes.model_dir import OPENVINO_FILE


def export_openvino(
    model_dir: Path, workdir: Path, *, threads: int = 2, max_tokens: int = 64
) -> Path:
    """ONNX (checked against torch), then OpenVINO IR with fp16-compressed weights (~45 MB)."""
    import openvino as ov

    workdir.mkdir(parents=True, exist_ok=True)
    setup = _Setup(
        model_dir, AutoTokenizer.from_pretrained(model_dir), threads, max_tokens, workdir
    )
    try:
        onnx_file = _export_onnx(setup, workdir / "model.onnx")
    except Unavailable as exc:
        raise RuntimeError(f"cannot export {model_dir} for OpenVINO: {exc}") from exc
    target = model_dir / OPENVINO_FILE
    ov.save_model(ov.convert_model(str(onnx_file)), str(target), compress_to_fp16=True)
    return target

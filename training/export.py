"""Write the OpenVINO IR the worker serves, converted from the model's own PyTorch weights."""

from __future__ import annotations

from pathlib import Path

from spectrum.worker.runtimes.model_dir import OPENVINO_FILE
from training.candidates import Unavailable, export_onnx


def export_openvino(
    model_dir: Path, workdir: Path, *, threads: int = 2, max_tokens: int = 64
) -> Path:
    """ONNX (checked against torch), then OpenVINO IR with fp16-compressed weights (~45 MB)."""
    import openvino as ov

    try:
        onnx_file = export_onnx(
            model_dir, workdir / "model.onnx", threads=threads, max_tokens=max_tokens
        )
    except Unavailable as exc:
        raise RuntimeError(f"cannot export {model_dir} for OpenVINO: {exc}") from exc
    target = model_dir / OPENVINO_FILE
    ov.save_model(ov.convert_model(str(onnx_file)), str(target), compress_to_fp16=True)
    return target

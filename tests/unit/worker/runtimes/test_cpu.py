from __future__ import annotations

from pathlib import Path

from spectrum.worker.runtimes.cpu import bf16_support


def write_cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\n")
    return path


def test_amx_means_bf16(tmp_path: Path) -> None:
    assert bf16_support(write_cpuinfo(tmp_path, "fpu sse avx512f amx_bf16 amx_tile")) == (
        True,
        "CPU has amx_bf16",
    )


def test_avx512_bf16_without_amx_means_fp32(tmp_path: Path) -> None:
    # Measured slower than fp32 with both runtimes (see worker/runtimes/cpu.py).
    fast, reason = bf16_support(write_cpuinfo(tmp_path, "fpu avx512f avx512_bf16"))
    assert not fast
    assert "no AMX" in reason


def test_plain_avx512_means_fp32(tmp_path: Path) -> None:
    fast, reason = bf16_support(write_cpuinfo(tmp_path, "fpu sse avx2 avx512f"))
    assert not fast
    assert "emulated" in reason


def test_unreadable_cpuinfo_means_fp32(tmp_path: Path) -> None:
    fast, reason = bf16_support(tmp_path / "missing")
    assert not fast
    assert "cannot read" in reason

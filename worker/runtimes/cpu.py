"""Tell whether this CPU runs bf16 matrix products natively.

bf16 weights roughly double transformer throughput on CPUs with AMX (Sapphire
Rapids and later). AVX512-BF16 alone is not enough: on a 2-core Xeon with
avx512_bf16 and no AMX, the shipped MiniLM ran slower in bf16 than in fp32 with
both runtimes (2 threads, batches of 64, alternating runs of `python -m
loadtest.engine`): OpenVINO 89-107 sentences/s against 131-156, PyTorch 92-96
against 144-155. Without AMX callers use fp32. Read from the kernel's CPU flags
so that no torch import is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")

_BF16_FLAGS = ("amx_bf16",)


def bf16_support(cpuinfo: Path = CPUINFO) -> tuple[bool, str]:
    """Return whether bf16 matmul is fast here, and a reason a person can read."""
    if not sys.platform.startswith("linux"):
        return False, f"cannot detect bf16 support on {sys.platform} (no /proc/cpuinfo)"
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return False, f"cannot read {cpuinfo}: {exc.strerror or exc}"
    flags = _first_flags(text)
    if flags is None:
        return False, f"no flags line in {cpuinfo}"
    for flag in _BF16_FLAGS:
        if flag in flags:
            return True, f"CPU has {flag}"
    if "avx512_bf16" in flags:
        return False, "CPU has avx512_bf16 but no AMX: fp32 measured faster there"
    return False, "CPU has no amx_bf16: bf16 would be emulated"


def _first_flags(text: str) -> set[str] | None:
    """Flags of the first processor; x86 kernels call the line `flags`, arm64 `Features`."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in {"flags", "Features"}:
            return set(value.split())
    return None

"""Tell whether this CPU runs bf16 matrix products natively.

bf16 weights roughly double transformer throughput on CPUs with AMX (Sapphire
Rapids and later) or AVX512-BF16 (Cooper Lake, Zen 4 and later). Elsewhere the
bf16 arithmetic is emulated and is slower than fp32, so callers must fall back
to fp32. Read from the kernel's CPU flags so that no torch import is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")

# Strongest first: the reason names the best feature present.
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


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
    return False, "CPU has neither amx_bf16 nor avx512_bf16: bf16 would be emulated"


def _first_flags(text: str) -> set[str] | None:
    """Flags of the first processor; x86 kernels call the line `flags`, arm64 `Features`."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in {"flags", "Features"}:
            return set(value.split())
    return None

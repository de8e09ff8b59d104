"""The arithmetic of the analytics answers: shares, percentiles, PSI. Pure functions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# PSI's floor for a share: a label absent from one window would make ln(0) infinite.
PSI_EPSILON = 1e-4
# Rule of thumb used across credit scoring and model monitoring: above 0.2, a shift
# worth a look (the alert in deploy/prometheus/alerts.yml uses the same figure).
PSI_ALERT = 0.2


def shares(counts: Mapping[str, int]) -> dict[str, float]:
    """Each key's share of the total; empty when the total is zero."""
    total = sum(counts.values())
    if total == 0:
        return {}
    return {key: count / total for key, count in sorted(counts.items())}


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank p-th percentile (0 < p <= 100) of an ascending, non-empty sequence.

    The smallest value with at least p% of the values at or below it: always one
    of the values, so a figure can be checked against the rows themselves.
    """
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} outside (0, 100]")
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def psi(reference: Mapping[str, int], recent: Mapping[str, int]) -> float | None:
    """The population stability index of `recent`'s label shares against `reference`'s.

    sum over labels of (r - q) * ln(r / q), r and q the recent and reference shares,
    each floored at PSI_EPSILON; labels seen in either window count. None when either
    window is empty (no figure rather than a misleading one). Zero for equal shares,
    symmetric in its two arguments, never negative.
    """
    ref_total, new_total = sum(reference.values()), sum(recent.values())
    if ref_total == 0 or new_total == 0:
        return None
    index = 0.0
    for label in set(reference) | set(recent):
        q = max(reference.get(label, 0) / ref_total, PSI_EPSILON)
        r = max(recent.get(label, 0) / new_total, PSI_EPSILON)
        index += (r - q) * math.log(r / q)
    return index

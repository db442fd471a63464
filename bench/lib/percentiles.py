"""The one percentile every benchmark reports: nearest rank."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``ordered`` (sorted ascending) by the nearest-rank method.

    That is the smallest value with at least ``q`` of the values at or below it: always one of
    the values, never an interpolation, so a p99 of 100 samples is the 99th smallest and p100
    is the maximum.  ``q`` is read as the decimal it was written as (0.29 is 29/100, not the
    binary float just under it), so ``q * n`` that should be whole is.  NaN when empty.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q!r} is outside 0..1")
    if not ordered:
        return math.nan
    rank = math.ceil(Fraction(str(q)) * len(ordered))
    return ordered[max(rank, 1) - 1]


def percentile_ms(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-quantile of ``values`` in seconds (any order), in milliseconds."""
    return 1000.0 * nearest_rank(sorted(values), q)

"""The benchmarks' one percentile: nearest rank, checked by hand and against its definition."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.lib.percentiles import nearest_rank, percentile_ms

TEN = [float(v) for v in range(1, 11)]  # 1.0 .. 10.0


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.0, 1.0),  # the minimum
        (0.05, 1.0),  # rank ceil(0.5) = 1
        (0.1, 1.0),  # rank 1 exactly
        (0.11, 2.0),  # just past a rank: the next value
        (0.5, 5.0),  # rank 5, not the 6th (int(q*n) read one too far)
        (0.9, 9.0),
        (0.95, 10.0),  # rank ceil(9.5) = 10
        (0.99, 10.0),
        (1.0, 10.0),  # the maximum
    ],
)
def test_nearest_rank_of_ten_values(q: float, expected: float) -> None:
    assert nearest_rank(TEN, q) == expected


def test_decimal_quantiles_are_read_as_written() -> None:
    # 0.29 * 100 is 28.999999999999996 in floats: rank 29, not 30; 0.57 * 100 likewise.
    hundred = [float(v) for v in range(1, 101)]
    assert nearest_rank(hundred, 0.29) == 29.0
    assert nearest_rank(hundred, 0.57) == 57.0
    assert nearest_rank(hundred, 0.99) == 99.0


def test_one_value_is_every_quantile() -> None:
    assert [nearest_rank([7.0], q) for q in (0.0, 0.5, 1.0)] == [7.0, 7.0, 7.0]


def test_no_values_give_nan_and_a_quantile_outside_0_1_is_refused() -> None:
    assert math.isnan(nearest_rank([], 0.5))
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        nearest_rank(TEN, 1.5)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        nearest_rank(TEN, -0.1)


def test_percentile_ms_sorts_and_converts_seconds() -> None:
    assert percentile_ms([0.003, 0.001, 0.002], 0.5) == 2.0
    assert percentile_ms([0.003, 0.001, 0.002], 1.0) == 3.0


@given(
    values=st.lists(st.integers(-1000, 1000), min_size=1, max_size=200),
    q=st.decimals(min_value=0, max_value=1, places=3).map(float),
)
def test_nearest_rank_is_the_smallest_value_covering_q(values: list[int], q: float) -> None:
    # The definition: the smallest value v with at least q * n of the values <= v.
    ordered = sorted(values)
    want = Fraction(str(q)) * len(ordered)
    expected = min(v for v in ordered if sum(1 for x in ordered if x <= v) >= want)
    assert nearest_rank(ordered, q) == expected

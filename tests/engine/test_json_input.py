"""JSON from outside is read exactly: never an integer turned into a float, never too deep."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.protocol.errors import GateError
from engine.protocol.json_input import MAX_DEPTH, _depth, loads_exact


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"events": [{"data": {"x": 9223372036854775808}}]}', "events[0].data.x"),
        (b'{"start_from": 18446744073709551615}', "start_from"),
        (b'{"a": [1, -9223372036854775809]}', "a[1]"),
        (b'{"a": 1180591620717411303424}', "a"),
        (b"9223372036854775808", "body"),
    ],
)
def test_integers_past_64_bits_are_refused_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(GateError) as refused:
        loads_exact(raw)
    assert refused.value.code == "invalid_request"
    assert refused.value.details["field"] == field
    assert field in refused.value.message


def test_the_edges_and_long_digit_strings_are_kept_exactly() -> None:
    raw = b'{"max": 9223372036854775807, "min": -9223372036854775808, "id": "12345678901234567890"}'
    assert loads_exact(raw) == {
        "max": 2**63 - 1,
        "min": -(2**63),
        "id": "12345678901234567890",
    }
    assert loads_exact(b'{"f": 1.2345678901234567890123}') == {"f": 1.2345678901234567}


def test_a_huge_integer_and_invalid_json_are_one_line() -> None:
    with pytest.raises(GateError, match="too large to be read exactly"):
        loads_exact(b'{"a": ' + b"9" * 5000 + b"}")
    with pytest.raises(GateError, match="the selector query parameter is not valid JSON"):
        loads_exact(b"{nope", "the selector query parameter")


def test_nesting_past_the_limit_is_refused_and_at_it_kept() -> None:
    def nested(depth: int) -> bytes:
        return b'{"d": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    assert loads_exact(nested(MAX_DEPTH))
    with pytest.raises(GateError, match="nested deeper than 64 levels") as refused:
        loads_exact(nested(MAX_DEPTH + 1))
    assert refused.value.details["field"].startswith("d[0]")
    # A flat body with many brackets is not deep: it is kept.
    assert len(loads_exact(b"[" + b",".join([b"{}"] * 500) + b"]")) == 500


def test_root_prefixes_the_field() -> None:
    with pytest.raises(GateError) as refused:
        loads_exact(b'{"x": 9223372036854775808}', "the selector", "selector")
    assert refused.value.details["field"] == "selector.x"


def _reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


_tricky_text = st.text(alphabet='[]{}"\\\\/nu0 aé', max_size=8)
_documents = st.recursive(
    st.one_of(st.none(), st.integers(-10, 10), _tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_tricky_text, inner, max_size=3)
    ),
    max_leaves=25,
)


@settings(max_examples=400, derandomize=True)
@given(_documents)
def test_the_byte_count_of_depth_agrees_with_a_walk(value: Any) -> None:
    """Brackets, quotes and backslashes inside strings never fool the count over the bytes."""
    assert _depth(orjson.dumps(value)) == _reference_depth(value)

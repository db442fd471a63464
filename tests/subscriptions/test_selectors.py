"""Selectors and pattern operators: every kind, every operator, and the 400s for bad input."""

from __future__ import annotations

from typing import Any

import pytest

from engine.protocol.errors import GateError
from engine.protocol.patterns import compile_pattern, json_equal
from engine.protocol.selectors import parse_selector, parse_selector_query

RECORD: dict[str, Any] = {
    "event_id": "e-1",
    "event_type": "temperature_measured:v1",
    "stream_id": "greenhouse-1",
    "event_number": 4,
    "position": 17,
    "data": {
        "temperature": 23.5,
        "zone": {"name": "north", "sensors": 3},
        "tags": ["a", "b"],
        "ok": True,
        "note": None,
    },
    "metadata": {"correlation_id": "c-9"},
}


def matches(kind: str, value: Any, record: dict[str, Any] = RECORD) -> bool:
    return parse_selector(kind, value).matches(record)


def test_by_stream_all_and_one_stream() -> None:
    assert matches("by_stream", "$all")
    assert matches("by_stream", "$greenhouse-1")
    assert not matches("by_stream", "$greenhouse-2")
    assert parse_selector("by_stream", "$greenhouse-1").stream_id == "greenhouse-1"
    assert parse_selector("by_stream", "$all").stream_id is None


def test_by_event_type() -> None:
    assert matches("by_event_type", "temperature_measured:v1")
    assert not matches("by_event_type", "temperature_measured:v2")


def test_pattern_matches_whole_record_partially_and_recursively() -> None:
    assert matches("by_event_pattern", {"stream_id": "greenhouse-1"})
    assert matches("by_event_pattern", {"data": {"zone": {"name": "north"}}})
    assert matches("by_event_pattern", {"metadata": {"correlation_id": "c-9"}, "position": 17})
    assert not matches("by_event_pattern", {"data": {"zone": {"name": "south"}}})
    assert not matches("by_event_pattern", {"data": {"missing": {"x": 1}}})
    # a nested pattern object needs an object there
    assert not matches("by_event_pattern", {"stream_id": {"name": "greenhouse-1"}})
    assert matches("by_event_pattern", {})


def test_payload_matches_data_only() -> None:
    assert matches("by_event_payload", {"temperature": 23.5})
    assert matches("by_event_payload", {"zone": {"sensors": 3}, "ok": True})
    assert not matches("by_event_payload", {"stream_id": "greenhouse-1"})
    assert not matches("by_event_payload", {"temperature": 23.5}, {**RECORD, "data": "x"})


def test_plain_values_use_json_equality() -> None:
    assert matches("by_event_payload", {"tags": ["a", "b"]})
    assert not matches("by_event_payload", {"tags": ["a"]})
    assert matches("by_event_payload", {"note": None})
    assert not matches("by_event_payload", {"ok": 1})  # true is not 1
    assert matches("by_event_payload", {"zone": {"sensors": 3.0}})
    assert json_equal({"a": [1, {"b": False}]}, {"a": [1, {"b": False}]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal(0, False)
    assert not json_equal("1", 1)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"temperature": {"$eq": 23.5}}, True),
        ({"temperature": {"$eq": 20}}, False),
        ({"ok": {"$eq": 1}}, False),
        ({"zone": {"$eq": {"name": "north", "sensors": 3}}}, True),
        ({"zone": {"$eq": {"name": "north"}}}, False),  # $eq is exact, not partial
        ({"temperature": {"$ne": 20}}, True),
        ({"temperature": {"$ne": 23.5}}, False),
        ({"absent": {"$ne": 1}}, True),
        ({"temperature": {"$gt": 23}}, True),
        ({"temperature": {"$gt": 23.5}}, False),
        ({"temperature": {"$gte": 23.5}}, True),
        ({"temperature": {"$lt": 24}}, True),
        ({"temperature": {"$lt": 23.5}}, False),
        ({"temperature": {"$lte": 23.5}}, True),
        ({"temperature": {"$gt": 20, "$lt": 25}}, True),
        ({"temperature": {"$gt": 20, "$lt": 23}}, False),
        ({"zone": {"name": {"$gt": "m"}}}, True),
        ({"zone": {"name": {"$lt": "m"}}}, False),
        ({"temperature": {"$gt": "a"}}, False),  # a number is not compared with a string
        ({"ok": {"$gt": 0}}, False),  # booleans are not numbers
        ({"absent": {"$lt": 100}}, False),
        ({"temperature": {"$in": [1, 23.5]}}, True),
        ({"temperature": {"$in": [1, 2]}}, False),
        ({"ok": {"$in": [1]}}, False),
        ({"absent": {"$in": [None]}}, False),
        ({"note": {"$in": [None]}}, True),
        ({"temperature": {"$exists": True}}, True),
        ({"absent": {"$exists": True}}, False),
        ({"absent": {"$exists": False}}, True),
        ({"note": {"$exists": False}}, False),  # null is present
        ({"zone": {"name": {"$glob": "no*"}}}, True),
        ({"zone": {"name": {"$glob": "n?rth"}}}, True),
        ({"zone": {"name": {"$glob": "[ns]orth"}}}, True),
        ({"zone": {"name": {"$glob": "orth"}}}, False),  # whole string
        ({"temperature": {"$glob": "*"}}, False),  # only strings
        ({"zone": {"name": {"$regex": "^no"}}}, True),
        ({"zone": {"name": {"$regex": "rt"}}}, True),  # search, not full match
        ({"zone": {"name": {"$regex": "^south$"}}}, False),
        ({"temperature": {"$regex": "2"}}, False),
    ],
)
def test_operators(pattern: dict[str, Any], expected: bool) -> None:
    assert matches("by_event_payload", pattern) is expected


def test_operators_against_the_whole_record() -> None:
    assert matches("by_event_pattern", {"stream_id": {"$glob": "greenhouse-*"}})
    assert matches("by_event_pattern", {"event_type": {"$regex": ":v1$"}, "position": {"$gt": 9}})
    assert not matches("by_event_pattern", {"event_number": {"$in": [0, 1, 2]}})


@pytest.mark.parametrize(
    ("kind", "value", "says"),
    [
        ("by_nothing", "x", "selector type must be one of"),
        ("by_stream", "greenhouse-1", "by_stream selector must be"),
        ("by_stream", "$", "by_stream selector must be"),
        ("by_stream", 7, "by_stream selector must be"),
        ("by_event_type", "", "by_event_type selector must be"),
        ("by_event_type", ["a"], "by_event_type selector must be"),
        ("by_event_pattern", "x", "must be a JSON object"),
        ("by_event_payload", [1], "must be a JSON object"),
        ("by_event_payload", {"t": {"$between": 1}}, "$between is not a known operator"),
        ("by_event_payload", {"t": {"$gt": 1, "x": 2}}, "mixes operators and fields"),
        ("by_event_payload", {"$gt": 1}, "operators go in a field's value"),
        ("by_event_payload", {"t": {"$gt": [1]}}, "must be a number or a string"),
        ("by_event_payload", {"t": {"$lte": None}}, "must be a number or a string"),
        ("by_event_payload", {"t": {"$in": 1}}, "must be a list"),
        ("by_event_payload", {"t": {"$exists": 1}}, "must be true or false"),
        ("by_event_payload", {"t": {"$glob": 1}}, "must be a string"),
        ("by_event_payload", {"t": {"$regex": "("}}, "not a valid regular expression"),
        ("by_event_payload", {"t": {"$regex": 3}}, "must be a string"),
    ],
)
def test_invalid_selectors_say_what_is_wrong(kind: str, value: Any, says: str) -> None:
    with pytest.raises(GateError) as info:
        parse_selector(kind, value)
    assert info.value.code == "invalid_request"
    assert info.value.status == 400
    assert says in info.value.message


@pytest.mark.parametrize(
    "regex", ["(a+)+$", r"(\w*)*", "(a|b+)*", "(a{2,})+", r"(\w+\s?)+$", r"(.*a)+$", "(x+x+)+y"]
)
def test_regexes_that_can_take_exponential_time_are_refused(regex: str) -> None:
    with pytest.raises(GateError, match="exponential time") as info:
        parse_selector("by_event_payload", {"t": {"$regex": regex}})
    assert info.value.status == 400


@pytest.mark.parametrize(
    "regex",
    [
        "a+b+",
        "(ab)+",
        "[a-z]+(-[0-9]+)*",
        r"(\d+,)+",
        r"([^,]+,)+$",
        r"(\d+-)+\d+$",
        "((ab)*c)*",
        "(?>a+)+",
        "(a++)+",
        "(a?)+",
    ],
)
def test_repetitions_with_a_separator_are_accepted(regex: str) -> None:
    parse_selector("by_event_payload", {"t": {"$regex": regex}})


def test_error_names_where_in_the_pattern() -> None:
    with pytest.raises(GateError, match=r"by_event_payload selector\.zone\.name\.\$in"):
        parse_selector("by_event_payload", {"zone": {"name": {"$in": "north"}}})


def test_too_deep_patterns_are_rejected() -> None:
    pattern: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        pattern = {"a": pattern}
    with pytest.raises(GateError, match="nested deeper"):
        compile_pattern(pattern)


def test_wire_shapes() -> None:
    typed = parse_selector("by_event_type", "temperature_measured:v1")
    keyed = parse_selector(None, {"by_event_type": "temperature_measured:v1"})
    assert typed == keyed
    assert typed.to_wire() == {"type": "by_event_type", "selector": "temperature_measured:v1"}
    assert parse_selector(None, None).to_wire() == {"type": "by_stream", "selector": "$all"}
    with pytest.raises(GateError, match="one key naming its kind"):
        parse_selector(None, {"by_stream": "$all", "by_event_type": "x"})
    with pytest.raises(GateError, match="selector is missing"):
        parse_selector("by_stream", None)


def test_query_parameters() -> None:
    assert parse_selector_query(None, None).value == "$all"
    assert parse_selector_query("by_stream", "$greenhouse-1").stream_id == "greenhouse-1"
    assert parse_selector_query("by_event_type", "a:v1").value == "a:v1"
    payload = parse_selector_query("by_event_payload", '{"temperature": {"$gt": 20}}')
    assert payload.matches(RECORD)
    keyed = parse_selector_query(None, '{"by_event_pattern": {"stream_id": "greenhouse-1"}}')
    assert keyed.kind == "by_event_pattern"
    assert keyed.matches(RECORD)
    with pytest.raises(GateError, match="not valid JSON"):
        parse_selector_query("by_event_payload", "{nope")

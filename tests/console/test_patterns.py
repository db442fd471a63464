"""Payload patterns as typed at the console: the original ``%{...}`` form, JSON, and mistakes."""

from __future__ import annotations

import pytest

from console.ops.patterns import PatternError, parse_data, parse_pattern


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('%{operator: "John"}', {"operator": "John"}),
        ("%{temperature: 25}", {"temperature": 25}),
        ("%{intensity: _}", {"intensity": {"$exists": True}}),
        ('{"operator": "John"}', {"operator": "John"}),
        ('{"humidity": {"$gte": 80}}', {"humidity": {"$gte": 80}}),
        (
            '%{temperature: %{"$gt": 25.5}, operator: _}',
            {
                "temperature": {"$gt": 25.5},
                "operator": {"$exists": True},
            },
        ),
        ('%{"operator" => "Paul", :light => -3}', {"operator": "Paul", "light": -3}),
        ("%{operator: 'Ringo',}", {"operator": "Ringo"}),
        ('%{tags: [1, "a", true, nil]}', {"tags": [1, "a", True, None]}),
        ('{"data": {"nested": {"deep": false}}}', {"data": {"nested": {"deep": False}}}),
        ('%{operator: "Jo\\"hn"}', {"operator": 'Jo"hn'}),
        ("%{}", {}),
    ],
)
def test_patterns_parse(text: str, expected: dict) -> None:
    assert parse_pattern(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty pattern"),
        ("operator: John", "expected a map"),
        ("%{operator: John}", 'expected a value (a quoted string such as "John"'),
        ("%{intensity: _", "expected ',' or '}' at column 15, found the end"),
        ('%{operator "John"}', "expected ':' after the key 'operator' at column 12"),
        ("%{temperature: 2x}", "expected ',' or '}' at column 17, found 'x'"),
        ('%{a: "unterminated}', "has no closing"),
        ('%{temperature: %{"$between": 1}}', "unknown operator '$between'"),
        ("%{a: 1, a: 2}", "appears twice"),
        ("%{a: 1} trailing", "expected the end of the pattern at column 9"),
        ("%{a: --1}", "expected a number at column 6"),
    ],
)
def test_bad_patterns_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        parse_pattern(text)
    assert message in str(caught.value)


def test_event_data_takes_no_wildcard() -> None:
    assert parse_data('%{temperature: 22, operator: "John"}') == {
        "temperature": 22,
        "operator": "John",
    }
    with pytest.raises(PatternError, match="only for patterns"):
        parse_data("%{intensity: _}")

"""Typed numbers are read in one place (console.ops.numbers), each with its field's range."""

from __future__ import annotations

import pytest

from console.ops.errors import OpsError
from console.ops.numbers import MAX_WHOLE, is_choice_number, parse_whole
from console.ops.subscriptions import ConsumerPolicy, parse_policy, parse_start

WHOLE = f"start version must be a whole number from 0 to {MAX_WHOLE}"


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("42", 42), ("  7\t", 7), ("+3", 3), ("007", 7), (str(MAX_WHOLE), MAX_WHOLE)],
)
def test_whole_numbers_in_range_are_read(text: str, value: int) -> None:
    assert parse_whole(text, "start version") == value


def test_empty_is_the_default_or_names_the_field() -> None:
    assert parse_whole("   ", "start version", default=5) == 5
    with pytest.raises(OpsError, match=f"^{WHOLE}: nothing was typed$"):
        parse_whole("", "start version")


@pytest.mark.parametrize(
    "text",
    [
        "99999999999999999999999",
        str(MAX_WHOLE + 1),
        "1" + "0" * 5000,  # int() refuses strings this long: still a range error
        "0000" + "9" * 25,
    ],
)
def test_huge_numbers_name_the_field_and_the_range(text: str) -> None:
    with pytest.raises(OpsError) as caught:
        parse_whole(text, "start version")
    assert str(caught.value) == WHOLE


@pytest.mark.parametrize("text", ["-5", "-99999999999999999999999", "-" + "9" * 5000])
def test_negative_numbers_are_below_the_minimum_not_garbage(text: str) -> None:
    with pytest.raises(OpsError) as caught:
        parse_whole(text, "start version")
    assert str(caught.value) == "start version must be at least 0"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("٣", "'٣'"),  # int() would read Arabic-Indic digits as 3
        ("1_000", "'1_000'"),  # and underscores
        ("2.5", "'2.5'"),
        ("1e3", "'1e3'"),
        ("abc", "'abc'"),
        ("1 2", "'1 2'"),
        ("4\x1b[2J", "'4\\x1b[2J'"),  # a control character is quoted escaped, never echoed
        ("12\x00", "'12\\x00'"),
        ("x" * 40, "'" + "x" * 24 + "…'"),
    ],
)
def test_anything_else_is_not_a_whole_number(text: str, shown: str) -> None:
    with pytest.raises(OpsError) as caught:
        parse_whole(text, "start version")
    assert str(caught.value) == f"{WHOLE}, not {shown}"


def test_a_field_with_its_own_range() -> None:
    field = "number of producers"
    assert parse_whole("100", field, default=3, minimum=1, maximum=100) == 100
    with pytest.raises(
        OpsError, match=r"^number of producers must be a whole number from 1 to 100$"
    ):
        parse_whole("101", field, minimum=1, maximum=100)
    with pytest.raises(OpsError, match=r"^number of producers must be at least 1$"):
        parse_whole("0", field, minimum=1, maximum=100)


def test_start_version_and_policy_answers_use_it() -> None:
    assert parse_start("") == 0 and parse_start(" Current ") == "current"
    assert parse_start("12") == 12
    with pytest.raises(
        OpsError, match=r"^start version must be a whole number from 0 to 9223372036854775807$"
    ):
        parse_start("99999999999999999999999")
    with pytest.raises(OpsError, match=r"^start version must be at least 0$"):
        parse_start("-5")
    assert parse_policy("nack_park", "") == ConsumerPolicy("nack_park", 1)
    with pytest.raises(
        OpsError, match=r"^N \(nack every Nth event\) must be a whole number from 1"
    ):
        parse_policy("nack_park", "99999999999999999999999")


def test_menu_picks_are_short_ascii_numbers() -> None:
    assert is_choice_number("3", 26) and not is_choice_number("27", 26)
    assert not is_choice_number("٣", 26) and not is_choice_number("9" * 5000, 26)

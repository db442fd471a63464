"""Pattern objects of ``by_event_pattern`` / ``by_event_payload`` selectors, compiled to predicates.

A pattern is a JSON object matched against a JSON value (an event record or its ``data``):

- it matches **partially**: only the keys the pattern names are looked at;
- **recursively**: a nested plain object must match the nested value the same way;
- a value that is an **operator object** (every key starts with ``$``) tests the value with
  ``$eq $ne $gt $gte $lt $lte $in $exists $glob $regex``, all of which must hold;
- any other value (string, number, bool, null, list) must equal the value exactly.

Equality is JSON equality: ``true`` never equals ``1``, and lists compare element by element.
The order operators compare numbers with numbers and strings with strings; a value of another
type (or a missing key) does not match.  ``$ne`` and ``{"$exists": false}`` match a missing key,
as in MongoDB.  ``$glob`` (``*``, ``?``, ``[...]``, whole string) and ``$regex`` (Python syntax,
``re.search``) only match strings.

Patterns are validated and compiled once (:func:`compile_pattern`); matching is then a call of
plain closures.  Every error is a 400 ``invalid_request`` naming where in the pattern it is.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from engine.errors import invalid

Predicate = Callable[[Any], bool]

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$exists", "$glob", "$regex")
MAX_DEPTH = 32
MAX_REGEX_LENGTH = 1000
_MISSING = object()


def compile_pattern(pattern: Any, where: str = "pattern") -> Predicate:
    """Validate a pattern object and return a predicate over a JSON value."""
    if not isinstance(pattern, dict):
        raise invalid(f"{where} must be a JSON object")
    return _compile_object(pattern, where, 0)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of two JSON values, where booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    if _is_number(a):
        return _is_number(b) and a == b
    return type(a) is type(b) and a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).startswith("$") for k in value)


def _compile_object(pattern: dict[str, Any], where: str, depth: int) -> Predicate:
    if depth > MAX_DEPTH:
        raise invalid(f"{where} is nested deeper than {MAX_DEPTH} levels")
    checks: list[tuple[str, Predicate]] = []
    for key, value in pattern.items():
        if key.startswith("$"):
            raise invalid(
                f"{where} has the key {key!r}: operators go in a field's value, "
                f'as in {{"field": {{"{key}": ...}}}}'
            )
        checks.append((key, _compile_value(value, f"{where}.{key}", depth + 1)))

    def match(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        return all(check(value.get(key, _MISSING)) for key, check in checks)

    return match


def _compile_value(value: Any, where: str, depth: int) -> Predicate:
    """A predicate over one field's value, which is ``_MISSING`` when the key is absent."""
    if isinstance(value, dict):
        if any(str(k).startswith("$") for k in value):
            if not _is_operator_object(value):
                raise invalid(f"{where} mixes operators and fields in one object")
            return _compile_operators(value, where)
        return _compile_object(value, where, depth)
    expected = value
    return lambda actual: actual is not _MISSING and json_equal(expected, actual)


def _compile_operators(ops: dict[str, Any], where: str) -> Predicate:
    tests = [_compile_operator(op, operand, f"{where}.{op}") for op, operand in ops.items()]
    if len(tests) == 1:
        return tests[0]
    return lambda actual: all(test(actual) for test in tests)


def _compile_operator(op: str, operand: Any, where: str) -> Predicate:
    if op == "$eq":
        return lambda a: a is not _MISSING and json_equal(operand, a)
    if op == "$ne":
        return lambda a: a is _MISSING or not json_equal(operand, a)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _compile_order(op, operand, where)
    if op == "$in":
        if not isinstance(operand, list):
            raise invalid(f"{where} must be a list of values")
        choices = list(operand)
        return lambda a: a is not _MISSING and any(json_equal(c, a) for c in choices)
    if op == "$exists":
        if not isinstance(operand, bool):
            raise invalid(f"{where} must be true or false")
        return (lambda a: a is not _MISSING) if operand else (lambda a: a is _MISSING)
    if op == "$glob":
        if not isinstance(operand, str):
            raise invalid(f"{where} must be a string (a glob such as 'greenhouse-*')")
        glob = re.compile(fnmatch.translate(operand), re.DOTALL)
        return lambda a: isinstance(a, str) and glob.match(a) is not None
    if op == "$regex":
        return _compile_regex(operand, where)
    raise invalid(f"{where} is not a known operator; use one of {', '.join(OPERATORS)}")


def _compile_order(op: str, operand: Any, where: str) -> Predicate:
    if _is_number(operand):
        same_kind: Callable[[Any], bool] = _is_number
    elif isinstance(operand, str):

        def same_kind(a: Any) -> bool:
            return isinstance(a, str)

    else:
        raise invalid(f"{where} must be a number or a string")
    if op == "$gt":
        return lambda a: same_kind(a) and a > operand
    if op == "$gte":
        return lambda a: same_kind(a) and a >= operand
    if op == "$lt":
        return lambda a: same_kind(a) and a < operand
    return lambda a: same_kind(a) and a <= operand


def _compile_regex(operand: Any, where: str) -> Predicate:
    if not isinstance(operand, str):
        raise invalid(f"{where} must be a string (a regular expression)")
    if len(operand) > MAX_REGEX_LENGTH:
        raise invalid(f"{where} is longer than {MAX_REGEX_LENGTH} characters")
    try:
        regex = re.compile(operand)
    except re.error as exc:
        raise invalid(f"{where} is not a valid regular expression: {exc}") from None
    return lambda a: isinstance(a, str) and regex.search(a) is not None

r"""Pattern objects of ``by_event_pattern`` and ``by_event_payload``, compiled to predicates.

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
``re.search``) only match strings.  Patterns run on the event loops of the leader and the
gateways, and Python's backtracking matcher has no time limit, so a ``$regex`` that repeats a
group which itself repeats with nothing to separate the iterations (``(a+)+``, ``(\w+\s?)+``:
exponential time on a near miss) is refused.

Patterns are validated and compiled once (:func:`compile_pattern`); matching is then a call of
plain closures.  Every error is a 400 ``invalid_request`` naming where in the pattern it is.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parser  # type: ignore[attr-defined]
from typing import Any

from engine.protocol.errors import invalid

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
    if _nested_repeat(sre_parser.parse(operand)):
        raise invalid(
            f"{where} repeats a group that itself repeats with no separator between the"
            " repetitions, which can take exponential time (like (a+)+); drop one repetition"
            " or add a separator (like (a+,)+)"
        )
    return lambda a: isinstance(a, str) and regex.search(a) is not None


_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)
_CATEGORIES = {
    sre_constants.CATEGORY_DIGIT: re.compile(r"\d"),
    sre_constants.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    sre_constants.CATEGORY_WORD: re.compile(r"\w"),
    sre_constants.CATEGORY_NOT_WORD: re.compile(r"\W"),
    sre_constants.CATEGORY_SPACE: re.compile(r"\s"),
    sre_constants.CATEGORY_NOT_SPACE: re.compile(r"\S"),
}


def _nested_repeat(parsed: Any) -> bool:
    """Whether a repetition contains another one that can split its input ambiguously.

    ``(a+)+`` can split ``aaaa`` between its iterations in exponentially many ways.  An outer
    repetition is safe when each iteration must match a literal character that none of its inner
    repetitions can match (``(-[0-9]+)*``, ``([^,]+,)+``): that character fixes the split.
    Possessive repetitions and atomic groups never backtrack and are left alone.
    """
    for op, arg in parsed:
        children: list[Any] = []
        if op in _REPEATS:
            _, high, body = arg
            if high is sre_constants.MAXREPEAT or high > 1:
                inner = _inner_repeat_atoms(body)
                if inner is not None and not _has_separator(body, inner):
                    return True
            children = [body]
        elif op is sre_constants.SUBPATTERN:
            children = [arg[-1]]
        elif op is sre_constants.BRANCH:
            children = arg[1]
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            children = [arg[1]]
        if any(_nested_repeat(child) for child in children):
            return True
    return False


def _inner_repeat_atoms(body: Any) -> list[tuple[Any, Any]] | None:
    """The single-character atoms of the backtracking repetitions inside ``body``, or None."""
    atoms: list[tuple[Any, Any]] = []
    found = False
    for op, arg in body:
        if op in _REPEATS and (arg[1] is sre_constants.MAXREPEAT or arg[1] > 1):
            found = True
            atoms.extend(_leaves(arg[2]))
        elif op is sre_constants.SUBPATTERN:
            sub = _inner_repeat_atoms(arg[-1])
            if sub is not None:
                found = True
                atoms.extend(sub)
        elif op is sre_constants.BRANCH:
            for branch in arg[1]:
                sub = _inner_repeat_atoms(branch)
                if sub is not None:
                    found = True
                    atoms.extend(sub)
    return atoms if found else None


def _leaves(parsed: Any) -> list[tuple[Any, Any]]:
    leaves: list[tuple[Any, Any]] = []
    for op, arg in parsed:
        if op in (sre_constants.LITERAL, sre_constants.NOT_LITERAL, sre_constants.IN):
            leaves.append((op, arg))
        elif op in _REPEATS:
            leaves.extend(_leaves(arg[2]))
        elif op is sre_constants.SUBPATTERN:
            leaves.extend(_leaves(arg[-1]))
        elif op is sre_constants.BRANCH:
            for branch in arg[1]:
                leaves.extend(_leaves(branch))
        elif op not in (sre_constants.AT, sre_constants.ATOMIC_GROUP):
            leaves.append((sre_constants.ANY, None))  # ANY, group references: anything
    return leaves


def _has_separator(body: Any, inner: list[tuple[Any, Any]]) -> bool:
    """``body`` must match a literal character that no atom of ``inner`` can match."""
    for op, arg in body:
        if op is sre_constants.SUBPATTERN and _has_separator(arg[-1], inner):
            return True
        if op is sre_constants.LITERAL and not any(_may_match(a, chr(arg)) for a in inner):
            return True
    return False


def _may_match(atom: tuple[Any, Any], char: str) -> bool:
    op, arg = atom
    if op is sre_constants.LITERAL:
        return chr(arg) == char
    if op is sre_constants.NOT_LITERAL:
        return chr(arg) != char
    if op is sre_constants.IN:
        negate = any(item_op is sre_constants.NEGATE for item_op, _ in arg)
        hit = any(_in_item(item_op, item, char) for item_op, item in arg)
        return hit != negate
    return True


def _in_item(op: Any, item: Any, char: str) -> bool:
    if op is sre_constants.LITERAL:
        return chr(item) == char
    if op is sre_constants.RANGE:
        return item[0] <= ord(char) <= item[1]
    if op is sre_constants.CATEGORY:
        category = _CATEGORIES.get(item)
        return category is None or category.match(char) is not None
    return op is not sre_constants.NEGATE

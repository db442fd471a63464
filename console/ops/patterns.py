"""Payload patterns as people type them: the original ``%{k: v}`` form, and JSON.

``%{operator: "John"}``, ``%{temperature: 25}`` and ``%{intensity: _}`` (``_`` = any value,
i.e. ``{"$exists": true}``) are the ExESDB console's examples; ``{"operator": "John"}`` is the
same pattern in JSON.  Both forms may nest maps and lists, and take operator objects such as
``%{temperature: %{"$gt": 25}}``.  Every mistake raises :class:`PatternError` saying what was
expected and at which column.
"""

from __future__ import annotations

import json
from typing import Any

from console.ops.errors import OpsError

# The operators of the engine's pattern matcher (docs/ARCHITECTURE.md, "Subscriptions").
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$exists", "$glob", "$regex")
ANY_VALUE: dict[str, Any] = {"$exists": True}
_ATOMS: dict[str, Any] = {"true": True, "false": False, "nil": None, "null": None}
_NUMBER_CHARS = frozenset("0123456789+-.eE")


class PatternError(OpsError):
    """A pattern that cannot be parsed; the message names the column."""


def parse_pattern(text: str) -> dict[str, Any]:
    """Parse a payload pattern (``%{...}`` or JSON) into the engine's pattern object."""
    return _Parser(text, allow_any=True).parse_map_document()


def parse_data(text: str) -> dict[str, Any]:
    """Parse event data typed by hand (same syntax as patterns, but ``_`` is not a value)."""
    return _Parser(text, allow_any=False).parse_map_document()


class _Parser:
    """A small recursive-descent parser over the text; ``pos`` is the next character."""

    def __init__(self, text: str, *, allow_any: bool) -> None:
        self.text = text
        self.pos = 0
        self.allow_any = allow_any

    # -- entry point -----------------------------------------------------------------------

    def parse_map_document(self) -> dict[str, Any]:
        self._skip_space()
        if self.pos >= len(self.text):
            raise PatternError('empty pattern: type a map such as %{operator: "John"}')
        if not self.text.startswith(("%{", "{"), self.pos):
            raise self._error('a map such as %{operator: "John"} or {"operator": "John"}')
        value = self._map(depth=0)
        self._skip_space()
        if self.pos < len(self.text):
            raise self._error("the end of the pattern")
        return value

    # -- values ----------------------------------------------------------------------------

    def _value(self, depth: int) -> Any:
        self._skip_space()
        if depth > 32:
            raise PatternError("the pattern nests too deeply")
        if self.pos >= len(self.text):
            raise self._error("a value")
        char = self.text[self.pos]
        if self.text.startswith("%{", self.pos) or char == "{":
            return self._map(depth + 1)
        if char == "[":
            return self._list(depth + 1)
        if char in "\"'":
            return self._string()
        if char in "-+" or char.isdigit():
            return self._number()
        word = self._word()
        if word == "_":
            if not self.allow_any:
                raise PatternError(f"'_' (any value) is only for patterns (column {self.pos})")
            return dict(ANY_VALUE)
        if word in _ATOMS:
            return _ATOMS[word]
        if word:
            self.pos -= len(word)
            raise self._error(f'a value (a quoted string such as "{word}", a number, true, _)')
        raise self._error("a value")

    def _map(self, depth: int) -> dict[str, Any]:
        self.pos += 2 if self.text.startswith("%{", self.pos) else 1
        result: dict[str, Any] = {}
        self._skip_space()
        if self._take("}"):
            return result
        while True:
            key = self._key()
            if key in result:
                raise PatternError(f"the key {key!r} appears twice")
            if key.startswith("$") and key not in OPERATORS:
                raise PatternError(f"unknown operator {key!r}; use one of {', '.join(OPERATORS)}")
            result[key] = self._value(depth)
            self._skip_space()
            if self._take("}"):
                return result
            if not self._take(","):
                raise self._error("',' or '}'")
            self._skip_space()
            if self._take("}"):  # a trailing comma
                return result

    def _key(self) -> str:
        """``name:`` (keyword form), ``"name":`` (JSON), or ``"name" =>`` / ``:name =>``."""
        self._skip_space()
        if self.pos < len(self.text) and self.text[self.pos] in "\"'":
            key = self._string()
        elif self._take(":"):
            key = self._word()
            if not key:
                raise self._error("a key name after ':'")
            self._arrow()
            return key
        else:
            key = self._word()
            if not key:
                raise self._error('a key such as operator: or "operator":')
        self._skip_space()
        if self._take(":"):
            return key
        if self.text.startswith("=>", self.pos):
            self._arrow()
            return key
        raise self._error(f"':' after the key {key!r}")

    def _arrow(self) -> None:
        self._skip_space()
        if not self.text.startswith("=>", self.pos):
            raise self._error("'=>'")
        self.pos += 2

    def _list(self, depth: int) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        self._skip_space()
        if self._take("]"):
            return items
        while True:
            items.append(self._value(depth))
            self._skip_space()
            if self._take("]"):
                return items
            if not self._take(","):
                raise self._error("',' or ']'")

    def _string(self) -> str:
        quote = self.text[self.pos]
        start = self.pos
        self.pos += 1
        chunk: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                chunk.append(self.text[self.pos : self.pos + 2])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                raw = "".join(chunk)
                if quote == "'":
                    raw = raw.replace('"', '\\"').replace("\\'", "'")
                try:
                    return json.loads(f'"{raw}"')
                except json.JSONDecodeError:
                    raise PatternError(f"bad escape in the string at column {start + 1}") from None
            chunk.append(char)
            self.pos += 1
        raise PatternError(f"the string at column {start + 1} has no closing {quote}")

    def _number(self) -> int | float:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _NUMBER_CHARS:
            self.pos += 1
        raw = self.text[start : self.pos].lstrip("+")
        try:
            return int(raw)
        except ValueError:
            pass
        try:
            return float(raw)
        except ValueError:
            self.pos = start
            raise self._error("a number") from None

    def _word(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "_?!$"
        ):
            self.pos += 1
        return self.text[start : self.pos]

    # -- helpers ---------------------------------------------------------------------------

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _take(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def _error(self, expected: str) -> PatternError:
        if self.pos >= len(self.text):
            return PatternError(f"expected {expected} at column {self.pos + 1}, found the end")
        found = self.text[self.pos]
        return PatternError(f"expected {expected} at column {self.pos + 1}, found {found!r}")

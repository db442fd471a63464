"""Writing the shell's output: styled in a terminal, plain text everywhere else.

Plain output (a pipe, a file, ``NO_COLOR``) is the exact text with no escape sequences, so a
lesson's transcript can be compared and read as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from prompt_toolkit import print_formatted_text
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style

from console.ops.outcomes import Level, Outcome
from console.repl.tables import Cell, render_table

Fragments = list[tuple[str, str]]

STYLE = Style.from_dict(
    {
        "ok": "ansigreen",
        "warn": "ansiyellow",
        "error": "ansired bold",
        "heading": "ansibrightblue bold",
        "title": "ansibrightblue bold",
        "section": "bold",
        "hint": "ansibrightblack",
        "unavailable": "ansibrightblack",
        "prompt": "bold",
        "seen": "ansibrightgreen",
        "received": "ansibrightcyan",
        "leader": "ansibrightgreen bold",
        "down": "ansired",
        "header": "ansicyan bold",
        "bottom-toolbar": "noreverse bg:ansiblack fg:ansiwhite",
        "toolbar.ok": "bg:ansiblack fg:ansigreen",
        "toolbar.bad": "bg:ansiblack fg:ansired bold",
        "toolbar.warn": "bg:ansiblack fg:ansiyellow bold",
        "toolbar.role": "bg:ansiblack fg:ansicyan bold",
    }
)


_OUTCOME_STYLES: dict[Level, str] = {
    "ok": "class:ok",
    "warn": "class:warn",
    "error": "class:error",
    "kept": "class:warn",
    "busy": "",
    "watch": "",
}


class Printer:
    """Lines of output with style classes; plain when ``stream`` is given."""

    def __init__(self, *, output: Output | None = None, stream: TextIO | None = None) -> None:
        if (output is None) == (stream is None):
            raise ValueError("give either a prompt-toolkit output (styled) or a stream (plain)")
        self.output = output
        self.stream = stream

    @property
    def plain(self) -> bool:
        """Whether the output carries no styles."""
        return self.stream is not None

    def size(self) -> tuple[int, int] | None:
        """The terminal's (columns, rows); None for plain output, which has no screen."""
        if self.output is None:
            return None
        size = self.output.get_size()
        return size.columns, size.rows

    def fragments(self, parts: Fragments, end: str = "\n") -> None:
        """Write styled fragments (``[(style, text), ...]``)."""
        if self.stream is not None:
            self.stream.write("".join(text for _, text in parts) + end)
            self.stream.flush()
            return
        print_formatted_text(
            FormattedText(parts),
            output=self.output,
            style=STYLE,
            include_default_pygments_style=False,
            end=end,
        )

    def line(self, text: str = "", style: str = "") -> None:
        """One line of text."""
        self.fragments([(style, text)])

    def ok(self, message: str) -> None:
        """A success: ``✅ ...`` in green."""
        self.line(f"✅ {message}", "class:ok")

    def warn(self, message: str) -> None:
        """A warning: ``⚠️  ...`` in yellow."""
        self.line(f"⚠️  {message}", "class:warn")

    def error(self, message: str) -> None:
        """A failure: ``❌ ...`` in red."""
        self.line(f"❌ {message}", "class:error")

    def outcome(self, outcome: Outcome) -> None:
        """An operation's outcome (``✅``, ``⚠️``, ``❌`` or ``↩️``), and its detail as a hint."""
        self.line(outcome.line, _OUTCOME_STYLES[outcome.level])
        if outcome.detail:
            self.hint(outcome.detail)

    def heading(self, text: str) -> None:
        """The title of an option's output, after a blank line."""
        self.line()
        self.line(text, "class:heading")

    def hint(self, text: str) -> None:
        """A secondary line (examples, where to look next)."""
        self.line(text, "class:hint")

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, folded: int | None = None
    ) -> None:
        """Rows under a header, in aligned columns; at a terminal, column ``folded`` folds
        onto more lines where the table would be wider than the screen."""
        size = self.size()
        # One column short of the edge: a line that ends at the edge may wrap on some terminals.
        width = None if size is None else size[0] - 1
        for parts in render_table(headers, rows, width=width, folded=folded):
            self.fragments(parts)

"""Lessons: the one format both consoles play, read once, here.

A lesson is a text file of lines (``examples/lessons/``): a line starting with ``#`` is
narration, any other line is an answer to ``gate-repl``'s numbered menu or to the question an
option asks; at the menu a *directive* line is not a numbered option: ``wait N`` paces the
script, ``tempo N`` sets the cluster's tempo.  ``gate-repl`` reads such a file line by line
from stdin (its script terminal tells comments from answers with :func:`is_comment`, its menu
loop directives with :func:`directive`); ``gate-console --lesson`` reads the whole file with
:func:`read_lesson` and plays it a :class:`Step` at a time: a block of narration and the
answer lines after it.

The first comment lines, up to a bare ``#`` line, are the lesson's heading (its title, how to
run it with ``gate-repl``), not the first step's narration.  A directive is a keyword and its
arguments, with a parser in :data:`DIRECTIVES`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from console.ops.cluster import MAX_TEMPO
from console.ops.errors import OpsError
from console.ops.numbers import parse_whole

COMMENT = "#"
MAX_LESSON_BYTES = 256 * 1024  # a lesson is a page of text; anything far bigger is a mistake
WAIT = "wait"
MAX_WAIT = 60.0
TEMPO = "tempo"  # ``tempo N``: the cluster N times slower from here on (docs/API.md, "Tempo")
LESSONS_ENV = "GATE_LESSONS"  # a folder of lessons, for an installed console


class LessonError(OpsError):
    """A lesson that cannot be played (missing, not text, empty), in one line."""


def is_comment(line: str) -> bool:
    """Whether a lesson line is narration (``# ...``), not an answer."""
    return line.lstrip().startswith(COMMENT)


def narration_text(line: str) -> str:
    """A comment line's words, without its ``#`` and the space after it."""
    text = line.lstrip().removeprefix(COMMENT)
    return text.removeprefix(" ").rstrip()


def parse_wait(answer: str) -> float:
    """The seconds of ``wait N``: a number, more than 0 and at most ``MAX_WAIT``."""
    words = answer.split()
    usage = f"type 'wait N' with N seconds, more than 0 and at most {MAX_WAIT:g}"
    if len(words) != 2:
        raise OpsError(f"{answer!r}: {usage}")
    try:
        seconds = float(words[1])
    except ValueError:
        raise OpsError(f"{words[1]!r} is not a number: {usage}") from None
    # "not (...)" so that nan is refused too.
    if not 0 < seconds <= MAX_WAIT:
        raise OpsError(f"{words[1]} is out of range: {usage}")
    return seconds


def parse_tempo(answer: str) -> int:
    """The scale of ``tempo N``: the cluster N times slower, from 1 (full speed) to
    ``MAX_TEMPO``."""
    words = answer.split()
    usage = f"type 'tempo N' with N from 1 (full speed) to {MAX_TEMPO} times slower"
    if len(words) != 2:
        raise OpsError(f"{answer!r}: {usage}")
    return parse_whole(words[1], "tempo", minimum=1, maximum=MAX_TEMPO)


# Each directive's keyword and the parser of its line (which raises OpsError saying why).
DIRECTIVES: dict[str, Callable[[str], float]] = {WAIT: parse_wait, TEMPO: parse_tempo}


def directive(answer: str) -> str | None:
    """The keyword of a directive line (valid or not: its parser says), None for any other."""
    words = answer.split()
    keyword = words[0].lower() if words else ""
    return keyword if keyword in DIRECTIVES else None


def is_wait(answer: str) -> bool:
    """Whether the menu answer is a ``wait`` line (valid or not)."""
    return directive(answer) == WAIT


def is_tempo(answer: str) -> bool:
    """Whether the menu answer is a ``tempo`` line (valid or not)."""
    return directive(answer) == TEMPO


@dataclass(frozen=True, slots=True)
class Step:
    """A block of narration and the answer lines after it (``first_line``: where it starts)."""

    number: int
    narration: tuple[str, ...]
    answers: tuple[str, ...]
    first_line: int

    @property
    def text(self) -> str:
        """The answers as a script, one a line, as ``gate-repl`` reads them."""
        return "".join(f"{answer}\n" for answer in self.answers)


@dataclass(frozen=True, slots=True)
class Lesson:
    """A parsed lesson: its name (the file's), heading and steps."""

    name: str
    heading: tuple[str, ...]
    steps: tuple[Step, ...]

    @property
    def title(self) -> str:
        """The heading's first line (``Lesson 5: a failover.``), else the file's name."""
        return next((line for line in self.heading if line), self.name)


def parse_lesson(text: str, name: str = "lesson") -> Lesson:
    """The heading and steps of a lesson's text; ``LessonError`` when it has no steps."""
    heading: list[str] = []
    steps: list[Step] = []
    narration: list[str] = []
    answers: list[str] = []
    first = 1
    in_heading = True

    def close() -> None:
        if narration or answers:
            steps.append(Step(len(steps) + 1, tuple(narration), tuple(answers), first))
        narration.clear()
        answers.clear()

    for number, raw in enumerate(text.splitlines(), 1):
        if is_comment(raw):
            words = narration_text(raw)
            if in_heading and not steps and not answers:
                if words:
                    heading.append(words)
                    continue
                in_heading = False  # the bare "#" ends the heading
                continue
            if answers:  # narration after answers starts the next step
                close()
            if not narration:
                first = number
            narration.append(words)
            continue
        if in_heading:
            # No bare "#": what looked like a heading is the first step's narration.
            narration.extend(heading)
            heading.clear()
            in_heading = False
        if not narration and not answers:
            first = number
        answers.append(raw.rstrip("\r"))
    if in_heading:  # comments only, no bare "#"
        narration.extend(heading)
        heading.clear()
    close()
    if not any(answer.strip() for step in steps for answer in step.answers):
        raise LessonError(f"{name}: no steps to play (a lesson has menu answers after comments)")
    return Lesson(name, tuple(heading), tuple(steps))


def read_lesson(path: Path) -> Lesson:
    """The lesson in the file ``path``; ``LessonError`` in one line when it cannot be one."""
    name = path.name
    try:
        if path.is_dir():
            raise LessonError(f"{path}: a folder, not a lesson file")
        if path.stat().st_size > MAX_LESSON_BYTES:
            raise LessonError(f"{path}: too big for a lesson ({path.stat().st_size} bytes)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise LessonError(f"{path}: no such lesson file") from None
    except OSError as exc:
        raise LessonError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if b"\0" in data:
        raise LessonError(f"{path}: not a lesson (a binary file)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LessonError(f"{path}: not a lesson (not UTF-8 text)") from None
    return parse_lesson(text, name)


def lessons_folder(start: Path | None = None) -> Path | None:
    """Where the bundled lessons are: ``$GATE_LESSONS``, else ``examples/lessons`` of the
    checkout this package runs from (found walking up from it), else of the current folder."""
    configured = os.environ.get(LESSONS_ENV)
    if configured:
        return Path(configured)
    here = (start or Path(__file__)).resolve()
    for folder in (*here.parents, Path.cwd()):
        candidate = folder / "examples" / "lessons"
        if candidate.is_dir():
            return candidate
    return None


def lesson_files(folder: Path | None) -> list[Path]:
    """The lesson files of ``folder`` (``*.txt``), by name; none when it is missing."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.txt") if path.is_file())

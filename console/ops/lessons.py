"""Lessons: the one format both consoles play, read once, here.

A lesson is a text file of lines (``examples/lessons/``): a line starting with ``#`` is
narration, any other line is an answer to ``gate-repl``'s numbered menu or to the question an
option asks; at the menu a *directive* line is not a numbered option: ``wait N`` paces the
script, ``tempo N`` sets the cluster's tempo, ``ask "Question?" a|b|c`` asks the seat a
question.  ``gate-repl`` reads such a file line by line from stdin (its script terminal tells
comments from answers with :func:`is_comment`, its menu loop directives with
:func:`directive`); ``gate-console --lesson`` reads the whole file with :func:`read_lesson` and
plays it a :class:`Step` at a time: a block of narration and the answer lines after it.

The first comment lines, up to a bare ``#`` line, are the lesson's heading (its title, how to
run it with ``gate-repl``), not the first step's narration.  A directive is a keyword and its
arguments, with a parser in :data:`DIRECTIVES`.  An ``ask`` line opens its step (it is the
step's first answer, one per step): the dashboard asks before the step runs.
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
ASK = "ask"
MAX_CHOICES = 9  # answered with the keys 1 to 9
NOBODY = "nobody"  # the choice a "-> leader" question compares with when no node leads
# What an ask line may name after "->": what the right answer is computed from, after the step.
CHECKS = {"leader": "the leader after the step"}
ASK_USAGE = (
    "type 'ask \"Question?\" choice1|choice2 [-> leader]': the question in double quotes, "
    f"2 to {MAX_CHOICES} different one-word choices"
)
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


@dataclass(frozen=True, slots=True)
class Ask:
    """An ``ask`` line: its question, its choices and what checks the answer (None: nothing
    can; the recap shows how the seats answered)."""

    question: str
    choices: tuple[str, ...]
    check: str | None = None

    def choice(self, answer: str) -> str | None:
        """The choice ``answer`` names (its word in any case, or its number), else None."""
        text = answer.strip()
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(self.choices):
            return self.choices[int(text) - 1]
        return next((c for c in self.choices if c.lower() == text.lower()), None)


def parse_ask(answer: str) -> Ask:
    """The question, choices and check of ``ask "Question?" a|b|c [-> leader]``."""
    rest = answer.strip()[len(ASK) :].strip()
    if not rest.startswith('"'):
        raise OpsError(f"{answer.strip()!r}: the question is missing its quotes: {ASK_USAGE}")
    end = rest.find('"', 1)
    if end < 0:
        raise OpsError(f"{answer.strip()!r}: the question has no closing quote: {ASK_USAGE}")
    question, rest = rest[1:end].strip(), rest[end + 1 :]
    if not question:
        raise OpsError(f"{answer.strip()!r}: the question is empty: {ASK_USAGE}")
    listed, arrow, check = rest.partition("->")
    choices = tuple(choice.strip() for choice in listed.split("|"))
    if not listed.strip() or len(choices) < 2:
        raise OpsError(f"{answer.strip()!r}: fewer than 2 choices: {ASK_USAGE}")
    if len(choices) > MAX_CHOICES:
        raise OpsError(f"{answer.strip()!r}: more than {MAX_CHOICES} choices: {ASK_USAGE}")
    if any(not choice or len(choice.split()) != 1 for choice in choices):
        raise OpsError(f"{answer.strip()!r}: each choice is one word between bars: {ASK_USAGE}")
    if len({choice.lower() for choice in choices}) != len(choices):
        raise OpsError(f"{answer.strip()!r}: a choice is listed twice: {ASK_USAGE}")
    checked = check.strip().lower() if arrow else None
    if checked is not None and checked not in CHECKS:
        known = ", ".join(CHECKS)
        raise OpsError(f"{answer.strip()!r}: '-> {check.strip()}' checks nothing (known: {known})")
    return Ask(question, choices, checked)


# Each directive's keyword and the parser of its line (which raises OpsError saying why).
DIRECTIVES: dict[str, Callable[[str], object]] = {
    WAIT: parse_wait,
    TEMPO: parse_tempo,
    ASK: parse_ask,
}


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


def is_ask(answer: str) -> bool:
    """Whether the menu answer is an ``ask`` line (valid or not)."""
    return directive(answer) == ASK


def right_answer(ask: Ask, leader: str | None) -> str | None:
    """The right answer of a checked question from what the cluster shows after the step
    (None: the question checks nothing)."""
    if ask.check == "leader":
        return leader or NOBODY
    return None


@dataclass(frozen=True, slots=True)
class Step:
    """A block of narration and the answer lines after it (``first_line``: where it starts);
    ``ask``: the question its first line asks before it runs."""

    number: int
    narration: tuple[str, ...]
    answers: tuple[str, ...]
    first_line: int
    ask: Ask | None = None

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

    asked: list[Ask] = []

    def close() -> None:
        if narration or answers:
            ask = asked[0] if asked else None
            steps.append(Step(len(steps) + 1, tuple(narration), tuple(answers), first, ask))
        narration.clear()
        answers.clear()
        asked.clear()

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
        if is_ask(raw):
            where = f"{name}, line {number}"
            if answers:  # the dashboard asks before the step runs: so the line opens it
                raise LessonError(f"{where}: an ask line opens its step (put a comment before it)")
            try:
                asked.append(parse_ask(raw))
            except OpsError as exc:
                raise LessonError(f"{where}: {exc}") from None
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

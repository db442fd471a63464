"""What a lesson's narration pane shows at one moment, as data: kept in a recording, replayed.

The dashboard's lesson pane (console/tui/lesson/pane.py) draws a :class:`LessonView` and, in a
recording console, hands each new one to the recorder; a replay (console/ops/replay.py) rebuilds
the view at any moment of the recording and the same pane draws it.  A pane changes a few times a
minute, and its transcript grows a line at a time: :func:`encode_change` writes only what
changed since the last view written (the transcript as the lines kept and the lines added), and
:func:`apply_change` rebuilds the view from the one before.  docs/CONSOLE.md,
"gate-console --record and --replay", describes the record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

State = Literal["step", "asking", "running", "done", "failed"]
STATES: tuple[str, ...] = get_args(State)


@dataclass(frozen=True, slots=True)
class LessonView:
    """The pane: the lesson's title, the step shown of how many, what it waits for (``state``:
    Enter, an answer, the step running, the recap shown, a lesson that could not be read), the
    step's narration and question (its choices, this seat's answer while the step runs), the
    recap, the error line, and the transcript of the step that ran last."""

    title: str
    state: State
    step: int = 0
    steps: int = 0
    narration: str = ""
    question: str = ""
    choices: tuple[str, ...] = ()
    answer: str | None = None
    recap: tuple[str, ...] = ()
    error: str = ""
    transcript: tuple[str, ...] = ()

    def status(self) -> str:
        """What the title line says after the lesson's title: the step and the keys."""
        if self.state == "done":
            return " · done: what you saw · Esc closes"
        if self.state == "failed":
            return " · Esc closes"
        if self.state == "running":
            doing = "running…"
        elif self.state == "asking":
            doing = f"1…{len(self.choices)} answers, then it runs · Esc closes"
        else:
            doing = "Enter or . runs it · Esc closes"
        return f" · step {self.step}/{self.steps} · {doing}"

    def words(self) -> str:
        """The narration as the pane shows it (a placeholder for a step without any)."""
        if self.narration or self.question:
            return self.narration
        return "(no narration: Enter runs the step)"

    def text(self) -> list[str]:
        """The pane as plain lines, unwrapped: the title, the narration, the question and its
        choices (the one answered marked), or the recap or the error; then the transcript."""
        lines = [f"📖 {self.title}{self.status()}"]
        if self.state == "failed":
            lines.append(f"❌ {self.error}")
        elif self.state == "done":
            lines += [f"• {line}" for line in self.recap]
        else:
            if self.words():
                lines.append(self.words())
            if self.question:
                lines.append(f"❓ {self.question}")
                choices = "   ".join(
                    f"{'[' if c == self.answer else ' '}{n}{']' if c == self.answer else ' '} {c}"
                    for n, c in enumerate(self.choices, 1)
                )
                answered = f"   · you answered {self.answer}" if self.answer else ""
                lines.append(choices + answered)
        return lines + list(self.transcript)


# -- as a record, and back ---------------------------------------------------------------------

_TRANSCRIPT = "transcript"


def _fields(view: LessonView) -> dict[str, Any]:
    """The view's fields but its transcript, as JSON."""
    fields = dataclasses.asdict(view)
    del fields[_TRANSCRIPT]
    return fields


def encode_change(last: LessonView | None, view: LessonView | None) -> dict[str, Any] | None:
    """What changed from ``last`` to ``view`` (None: nothing): ``view``, the fields but the
    transcript when any changed (null: the pane closed); ``keep`` and ``out``: the transcript is
    the last one's first ``keep`` lines and then ``out``."""
    if view == last:
        return None
    if view is None:
        return {"view": None, "keep": 0, "out": []}
    change: dict[str, Any] = {}
    if last is None or _fields(last) != _fields(view):
        change["view"] = _fields(view)
    before = last.transcript if last is not None else ()
    keep = 0
    while keep < min(len(before), len(view.transcript)) and before[keep] == view.transcript[keep]:
        keep += 1
    # Lines cut from the end and others written there: the kept prefix and the new lines.
    change["keep"] = keep
    change["out"] = list(view.transcript[keep:])
    return change


def _strings(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ValueError("a list of strings was expected")
    return tuple(raw)


def decode_fields(raw: dict[str, Any]) -> LessonView:
    """A record's ``view`` (its transcript empty); ``ValueError`` when it is none."""
    if raw.get("state") not in STATES:
        raise ValueError(f"no such lesson state: {raw.get('state')!r}")
    answer = raw.get("answer")
    texts = ("title", "narration", "question", "error")
    if not all(isinstance(raw.get(name, ""), str) for name in texts):
        raise ValueError("a lesson's text fields are strings")
    if answer is not None and not isinstance(answer, str):
        raise ValueError("a lesson's answer is a string or null")
    return LessonView(
        title=raw["title"],
        state=raw["state"],
        step=int(raw.get("step", 0)),
        steps=int(raw.get("steps", 0)),
        narration=raw.get("narration", ""),
        question=raw.get("question", ""),
        choices=_strings(raw.get("choices", [])),
        answer=answer,
        recap=_strings(raw.get("recap", [])),
        error=raw.get("error", ""),
    )


def check_change(raw: dict[str, Any]) -> None:
    """``ValueError`` (or ``KeyError``, ``TypeError``) when ``raw`` is no lesson record."""
    if "view" in raw and raw["view"] is not None:
        decode_fields(raw["view"])
    if int(raw["keep"]) < 0:
        raise ValueError("a lesson record keeps no negative number of lines")
    _strings(raw["out"])


def apply_change(last: LessonView | None, raw: dict[str, Any]) -> LessonView | None:
    """The view after the (checked) record ``raw``, from the one before it (None: no pane)."""
    if "view" in raw:
        if raw["view"] is None:
            return None
        view = decode_fields(raw["view"])
    elif last is None:  # the transcript of a pane the recording never showed: nothing to show
        return None
    else:
        view = last
    before = last.transcript if last is not None else ()
    transcript = before[: int(raw["keep"])] + _strings(raw["out"])
    return dataclasses.replace(view, transcript=transcript)

"""How the room answered a lesson's questions: a folder every served tab of one classroom sees.

``gate-console --serve`` runs one console process per browser tab, so the answers of a room
must meet outside them.  The server makes a folder for its session (removed when it stops) and
hands it to every tab in ``GATE_ROOM``, as it hands them its token; each seat writes its answer
to a question as a small file there (``<question>-<seat>.answer``, replaced atomically when it
answers again), and the tally is a count of those files.  No network, no engine (a read-only
seat may not write to the store), and a teacher's own console joins with the same variable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from console.ops.errors import OpsError
from console.ops.lessons import Ask

ROOM_ENV = "GATE_ROOM"
_SUFFIX = ".answer"
MAX_ANSWER_BYTES = 256  # one choice word; anything bigger was not written by a seat


def question_key(lesson: str, step: int, ask: Ask) -> str:
    """A file-name-safe name of one question of one lesson."""
    words = "\0".join((lesson, str(step), ask.question, *ask.choices))
    return hashlib.sha256(words.encode()).hexdigest()[:16]


class Room:
    """The answers of every seat of one served session, in ``folder``; this seat is ``seat``."""

    def __init__(self, folder: Path, seat: str | None = None) -> None:
        self.folder = folder
        self.seat = seat or str(os.getpid())  # one process per tab: its pid is the seat

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Room | None:
        """The room this console sits in (``GATE_ROOM``), None outside a classroom."""
        folder = environ.get(ROOM_ENV)
        return cls(Path(folder)) if folder else None

    def answer(self, key: str, choice: str) -> None:
        """Write this seat's answer; OpsError in one line when the folder cannot take it."""
        target = self.folder / f"{key}-{self.seat}{_SUFFIX}"
        scratch = self.folder / f".{key}-{self.seat}.tmp"
        try:
            scratch.write_text(choice, encoding="utf-8")
            os.replace(scratch, target)  # a tally never reads half an answer
        except OSError as exc:
            raise OpsError(
                f"the room's answers ({self.folder}) cannot be written: {exc.strerror or exc}"
            ) from None

    def tally(self, key: str, ask: Ask) -> dict[str, int]:
        """How many seats gave each choice (every choice, in order; files that name none are
        left out); OpsError in one line when the folder cannot be read."""
        counts = dict.fromkeys(ask.choices, 0)
        if not self.folder.is_dir():
            raise OpsError(f"the room's answers ({self.folder}) are gone (serving stopped?)")
        try:
            for path in self.folder.glob(f"{key}-*{_SUFFIX}"):
                with contextlib.suppress(FileNotFoundError):  # replaced while we looked
                    if path.stat().st_size > MAX_ANSWER_BYTES:
                        continue
                    choice = ask.choice(path.read_text(encoding="utf-8", errors="replace"))
                    if choice is not None:
                        counts[choice] += 1
        except OSError as exc:
            raise OpsError(
                f"the room's answers ({self.folder}) cannot be read: {exc.strerror or exc}"
            ) from None
        return counts

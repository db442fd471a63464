"""How a room answered (``console.ops.room``): a folder the served tabs share, one answer file
per seat and question, a tally that counts them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.ops.errors import OpsError
from console.ops.lessons import Ask
from console.ops.room import ROOM_ENV, Room, question_key

WHO = Ask("Which node leads after node1 dies?", ("node2", "node3", "nobody"), "leader")
ROOT = Path(__file__).resolve().parents[2]


def test_each_seat_answers_once_and_the_tally_counts_every_choice(tmp_path: Path) -> None:
    key = question_key("09-predict.txt", 2, WHO)
    assert Room(tmp_path, "a").tally(key, WHO) == {"node2": 0, "node3": 0, "nobody": 0}
    Room(tmp_path, "a").answer(key, "node3")
    Room(tmp_path, "b").answer(key, "node2")
    Room(tmp_path, "a").answer(key, "node2")  # a seat that changes its mind counts once
    assert Room(tmp_path, "c").tally(key, WHO) == {"node2": 2, "node3": 0, "nobody": 0}
    # Another question (another lesson, step or wording) is another tally.
    other = question_key("09-predict.txt", 3, WHO)
    assert other != key and Room(tmp_path, "a").tally(other, WHO)["node2"] == 0
    # What no seat wrote is left out: a foreign word, a huge file, a half-written answer.
    (tmp_path / f"{key}-x.answer").write_text("node7")
    (tmp_path / f"{key}-y.answer").write_text("node2" * 100)
    (tmp_path / f".{key}-z.tmp").write_text("node2")
    assert Room(tmp_path, "c").tally(key, WHO) == {"node2": 2, "node3": 0, "nobody": 0}


def test_a_room_gone_or_unwritable_is_one_line(tmp_path: Path) -> None:
    key = question_key("l", 1, WHO)
    gone = Room(tmp_path / "stopped")
    with pytest.raises(OpsError, match=r"the room's answers \(.*stopped\) are gone"):
        gone.tally(key, WHO)
    with pytest.raises(OpsError, match=r"the room's answers \(.*stopped\) cannot be written: "):
        gone.answer(key, "node2")


def test_the_room_comes_from_the_environment(tmp_path: Path) -> None:
    assert Room.from_env({}) is None and Room.from_env({ROOM_ENV: ""}) is None
    room = Room.from_env({ROOM_ENV: str(tmp_path)})
    assert room is not None and room.folder == tmp_path and room.seat == str(os.getpid())


@pytest.mark.slow
def test_tabs_in_their_own_processes_answer_into_one_tally(tmp_path: Path) -> None:
    # Each served tab is a process: its pid is its seat.
    key = question_key("09-predict.txt", 2, WHO)
    answer = (
        "import sys; from console.ops.room import Room; "
        "Room.from_env().answer(sys.argv[1], sys.argv[2])"
    )
    env = {**os.environ, ROOM_ENV: str(tmp_path), "PYTHONPATH": str(ROOT)}
    tabs = [
        subprocess.Popen([sys.executable, "-c", answer, key, choice], env=env)
        for choice in ("node2", "node2", "node3", "nobody", "NOBODY")
    ]
    assert [tab.wait(60) for tab in tabs] == [0] * 5
    assert Room(tmp_path, "teacher").tally(key, WHO) == {"node2": 2, "node3": 1, "nobody": 2}

"""The lesson format (``console.ops.lessons``), read once for both consoles, and the recap a
lesson ends with (``console.ops.lesson_recap``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.ops.errors import OpsError
from console.ops.lesson_recap import Asked, Look, NodeEvent, Record, recap
from console.ops.lessons import (
    DIRECTIVES,
    LESSONS_ENV,
    Ask,
    LessonError,
    directive,
    is_comment,
    lesson_files,
    lessons_folder,
    parse_ask,
    parse_lesson,
    read_lesson,
    right_answer,
)
from tests.console.script_runs import LESSONS


def test_every_bundled_lesson_parses_into_steps_with_a_title() -> None:
    paths = lesson_files(LESSONS)
    assert [p.name for p in paths] == sorted(p.name for p in LESSONS.glob("*.txt"))
    assert len(paths) == 13
    for path in paths:
        lesson = read_lesson(path)
        assert lesson.title.startswith("Lesson "), path.name
        assert any("gate-repl" in line for line in lesson.heading), path.name
        # Every answer line of the file is in exactly one step, in order.
        answers = [ln for ln in path.read_text().splitlines() if not is_comment(ln)]
        assert [a for step in lesson.steps for a in step.answers] == answers
        assert [step.number for step in lesson.steps] == list(range(1, len(lesson.steps) + 1))


def test_the_failover_lesson_in_steps() -> None:
    lesson = read_lesson(LESSONS / "05-failover.txt")
    assert lesson.title == "Lesson 5: a failover."
    assert lesson.heading[-1] == "  gate-repl --clear --seed 5 < examples/lessons/05-failover.txt"
    first, kill = lesson.steps[0], lesson.steps[1]
    assert first.narration == ("Who leads? (node1, the preferred leader, on a fresh start)",)
    assert first.answers == ("14", "1", "$all", "everything", "13", "greenhouse-5", "3")
    assert first.first_line == 5
    # The empty line is an answer (Enter = the leader), kept as the script has it.
    assert kill.answers == ("18", "", "14")
    assert kill.text == "18\n\n14\n"
    assert lesson.steps[-1].answers == ("14", "15")
    assert [step.answers for step in lesson.steps if "wait" in " ".join(step.answers)] == [
        ("wait 5",)
    ]


def test_a_lesson_without_a_bare_comment_line_has_no_heading() -> None:
    lesson = parse_lesson("# Make an observer.\n1\n$all\n\n# Then list it.\n4\n", "x.txt")
    assert lesson.heading == () and lesson.title == "x.txt"
    assert [s.narration for s in lesson.steps] == [("Make an observer.",), ("Then list it.",)]
    assert lesson.steps[0].answers == ("1", "$all", "")


def test_answers_before_any_comment_and_narration_at_the_end() -> None:
    lesson = parse_lesson("14\n#   indented comment\n4\n# The end.\n", "y.txt")
    assert [(s.narration, s.answers) for s in lesson.steps] == [
        ((), ("14",)),
        (("  indented comment",), ("4",)),  # its indent kept, as for a command line
        (("The end.",), ()),
    ]
    assert is_comment("   # indented") and not is_comment("1 # not a comment")


@pytest.mark.parametrize("text", ["", "\n\n", "# Only words.\n#\n# No answers.\n"])
def test_a_lesson_with_nothing_to_play_is_one_line(text: str) -> None:
    with pytest.raises(LessonError, match=r"^z\.txt: no steps to play"):
        parse_lesson(text, "z.txt")


def test_files_that_are_not_lessons(tmp_path: Path) -> None:
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("# caf\xe9\n14\n".encode("latin-1"))
    huge = tmp_path / "huge.txt"
    huge.write_text("14\n" * 100_000)
    cases = {
        tmp_path / "missing.txt": "no such lesson file",
        huge: "too big for a lesson (300000 bytes)",
        binary: "not a lesson (a binary file)",
        latin: "not a lesson (not UTF-8 text)",
        tmp_path: "a folder, not a lesson file",
    }
    for path, words in cases.items():
        with pytest.raises(LessonError) as caught:
            read_lesson(path)
        assert str(caught.value) == f"{path}: {words}"
        assert "\n" not in str(caught.value)


def test_directives_are_lines_of_their_own() -> None:
    assert directive("wait 3") == "wait" and directive("  WAIT 0.5") == "wait"
    assert directive("14") is None and directive("waiting 3") is None and directive("") is None
    # A new directive is one parser more: the tempo line (slow motion), the ask line.
    assert set(DIRECTIVES) == {"wait", "tempo", "ask"}
    assert directive("tempo 20") == "tempo" and DIRECTIVES["tempo"]("tempo 20") == 20
    with pytest.raises(OpsError, match="type 'wait N'"):
        DIRECTIVES["wait"]("wait 0")
    with pytest.raises(OpsError, match="type 'tempo N'"):
        DIRECTIVES["tempo"]("tempo")
    with pytest.raises(OpsError, match="tempo must be"):
        DIRECTIVES["tempo"]("tempo 101")


def test_the_lessons_folder_is_found_from_the_package_or_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(LESSONS_ENV, raising=False)
    assert lessons_folder() == LESSONS.resolve()
    # Installed elsewhere, with no checkout around: none unless GATE_LESSONS names one.
    monkeypatch.chdir(tmp_path)
    assert lessons_folder(tmp_path / "site-packages" / "console" / "ops" / "lessons.py") is None
    monkeypatch.setenv(LESSONS_ENV, str(tmp_path))
    (tmp_path / "mine.txt").write_text("# Mine.\n14\n")
    assert lessons_folder() == tmp_path
    assert lesson_files(lessons_folder()) == [tmp_path / "mine.txt"]
    assert lesson_files(tmp_path / "nowhere") == []


def _look(leader: str | None, term: int, up: int = 3, **seen: int) -> Look:
    return Look(leader, term, up, 3, seen, {"sorter": 0})


def test_the_recap_of_a_failover() -> None:
    record = Record(before=_look("node1", 3, everything=2))
    for leader, term in [("node1", 3), (None, 3), ("node2", 4), ("node2", 4)]:
        record.saw_leader(leader, term)
    record.nodes += [NodeEvent(2, "kill", "node1", True, "node2"), NodeEvent(4, "start", "node1")]
    record.after = Look("node2", 4, 3, 3, {"everything": 8}, {"sorter": 2})
    record.steps_played = 6
    assert recap(record) == [
        "Leader: node1 (term 3) before, node2 (term 4) after",
        "Nodes: killed node1 (the leader) in step 2, node2 took over; started node1 in step 4",
        "Nodes up at the end: 3 of 3",
        "Events seen by the observers during the lesson: everything 6",
        "Parked events now: sorter 2",
        "6 steps played, none failed",
    ]


def test_the_recap_names_the_leaders_between_the_first_and_the_last() -> None:
    record = Record(before=_look("node1", 3), after=_look("node1", 5))
    for leader, term in [("node1", 3), ("node2", 4), ("node1", 5)]:
        record.saw_leader(leader, term)
    assert recap(record)[0] == (
        "Leader: node1 (term 3) before, node1 (term 5) after; leaders seen: node1 → node2 → node1"
    )


def test_the_recap_of_a_quiet_lesson_says_so() -> None:
    record = Record(before=_look("node1", 3), after=_look("node1", 3, up=2))
    record.saw_leader("node1", 3)
    record.failures.append((2, "❌ Invalid choice '99'. Please type a number from 1 to 33."))
    record.failures.append((3, "❌ another"))
    record.steps_played = 1
    assert recap(record) == [
        "Leader: node1 (term 3) from start to end",
        "Nodes up at the end: 2 of 3",
        "Parked events: none",
        "1 step played; step 2 failed: ❌ Invalid choice '99'. Please type a number from 1 "
        "to 33. (2 in all)",
    ]
    assert recap(Record()) == ["The cluster did not answer at the end: nothing to sum up"]
    unknown = Record(before=None, after=Look(None, 5, 1, 3, {}, None))
    assert "Parked events: unknown (the engine did not answer at the end)" in recap(unknown)


def test_an_ask_line_is_a_question_its_choices_and_what_checks_it() -> None:
    assert directive('ask "Who leads?" node2|node3') == "ask"
    assert parse_ask('ask "Which node leads after node1 dies?" node2|node3|nobody -> leader') == (
        Ask("Which node leads after node1 dies?", ("node2", "node3", "nobody"), "leader")
    )
    # Spaces around the bars and the arrow are the author's; the check's case too.
    ask = parse_ask('  ASK  " Does it lose an event? "  yes | no  ')
    assert ask == Ask("Does it lose an event?", ("yes", "no"), None)
    assert parse_ask('ask "Who?" a|b -> LEADER').check == "leader"
    # An answer is a choice's word in any case or its number, nothing else.
    assert ask.choice("2") == "no" and ask.choice(" YES ") == "yes"
    assert ask.choice("3") is None and ask.choice("0") is None and ask.choice("maybe") is None
    assert ask.choice("٢") is None and ask.choice("") is None


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("ask", "the question is missing its quotes"),
        ("ask Who leads? node2|node3", "the question is missing its quotes"),
        ('ask "Who leads? node2|node3', "the question has no closing quote"),
        ('ask "" node2|node3', "the question is empty"),
        ('ask "Who leads?"', "fewer than 2 choices"),
        ('ask "Who leads?" node2', "fewer than 2 choices"),
        ('ask "Who leads?" -> leader', "fewer than 2 choices"),
        ('ask "Who?" ' + "|".join(f"n{i}" for i in range(10)), "more than 9 choices"),
        ('ask "Who leads?" node2||node3', "each choice is one word between bars"),
        ('ask "Who leads?" node 2|node3', "each choice is one word between bars"),
        ('ask "Who leads?" node2|NODE2', "a choice is listed twice"),
        ('ask "Who leads?" node2|node3 -> term', "'-> term' checks nothing (known: leader)"),
        ('ask "Who leads?" node2|node3 ->', "'-> ' checks nothing (known: leader)"),
    ],
)
def test_a_bad_ask_line_is_one_line_saying_why(line: str, words: str) -> None:
    with pytest.raises(OpsError) as caught:
        parse_ask(line)
    message = str(caught.value)
    assert message.startswith(repr(line.strip())) and words in message
    assert "\n" not in message
    if "checks nothing" not in words:
        assert 'ask "Question?" choice1|choice2 [-> leader]' in message


def test_an_ask_line_opens_its_step_in_a_lesson() -> None:
    lesson = parse_lesson(
        "# T.\n#\n# Predict.\n"
        'ask "Who leads after the kill?" node2|node3|nobody -> leader\n18\n\n# Then.\n14\n',
        "predict.txt",
    )
    first, second = lesson.steps
    assert first.ask == Ask("Who leads after the kill?", ("node2", "node3", "nobody"), "leader")
    assert first.answers[0].startswith("ask ") and second.ask is None
    # The dashboard asks before the step runs: a question inside a step, a second one in the
    # same step, or a bad one is the lesson's one line, with where.
    for text, words in [
        ('# S.\n14\nask "Who?" a|b\n', "line 3: an ask line opens its step"),
        ('# S.\nask "Who?" a|b\nask "Why?" c|d\n', "line 3: an ask line opens its step"),
        ('# S.\nask "Who?" a\n14\n', "line 2: 'ask \"Who?\" a': fewer than 2 choices"),
    ]:
        with pytest.raises(LessonError) as caught:
            parse_lesson(text, "bad.txt")
        assert str(caught.value).startswith("bad.txt, ") and words in str(caught.value)


def test_the_right_answer_and_how_a_question_was_answered() -> None:
    who = Ask("Which node leads after node1 dies?", ("node2", "node3", "nobody"), "leader")
    assert right_answer(who, "node2") == "node2" and right_answer(who, None) == "nobody"
    assert right_answer(Ask("Lost?", ("yes", "no")), "node2") is None
    right = Asked(2, who, "node2", right="node2", checked=True)
    assert right.lines() == [
        "Step 2 asked: Which node leads after node1 dies?",
        "You answered node2: right, the answer was node2 (the leader after the step)",
    ]
    room = {"node2": 3, "node3": 1, "nobody": 0}
    wrong = Asked(2, who, "node3", right="node2", checked=True, room=room)
    assert wrong.lines()[1:] == [
        "You answered node3: wrong, the answer was node2 (the leader after the step)",
        "The room, 4 seats answered: node2 3 ✓, node3 1, nobody 0",
    ]
    unchecked = Asked(2, who, None, room_error="the room's answers (/x) are gone")
    assert unchecked.lines()[1:] == [
        "You did not answer (not checked: the cluster did not answer after the step)",
        "The room: cannot tell (the room's answers (/x) are gone)",
    ]
    plain = Asked(0, Ask("Lost?", ("yes", "no")), "no", room={"yes": 0, "no": 1})
    assert plain.lines() == [
        "Asked: Lost?",
        "You answered no",
        "The room, 1 seat answered: yes 0, no 1",
    ]
    record = Record(after=Look("node2", 4, 2, 3), asked=[wrong], steps_played=2)
    assert recap(record)[-4:-1] == wrong.lines()

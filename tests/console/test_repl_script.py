"""gate-repl's ``wait N`` and ``tempo N`` lines (a script's pause, slow motion), its ``ask`` line
at a terminal, options 34 and 35 (slow motion, link faults), lab option 27, Replay Parked Events
(a lesson replays parked events for real in tests/console/test_lessons.py), and what the shell
says when an operation fails for want of a majority."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from console.ops.errors import OpsError
from console.ops.lessons import is_wait, parse_wait
from console.repl.menu import TITLES, render_menu
from console.repl.printer import Printer
from console.repl.shell import COMMANDS
from tests.cluster_harness import RunningCluster
from tests.console.repl_driver import running_repl
from tests.console.script_runs import assert_clean, run_script


def test_wait_lines() -> None:
    assert is_wait("wait 3") and is_wait("  WAIT 0.5 ") and is_wait("wait")
    assert not is_wait("3") and not is_wait("waiting 3") and not is_wait("")
    assert parse_wait("wait 3") == 3.0 and parse_wait("Wait 0.25") == 0.25
    assert parse_wait("wait 60") == 60.0


@pytest.mark.parametrize(
    "answer", ["wait", "wait 0", "wait -1", "wait 61", "wait x", "wait nan", "wait 1 2"]
)
def test_wait_refuses(answer: str) -> None:
    with pytest.raises(OpsError, match="type 'wait N' with N seconds"):
        parse_wait(answer)


def test_option_28_ends_the_lab_and_the_menu_fits_80_columns() -> None:
    assert TITLES[27] == "Replay Parked Events" and max(COMMANDS) == 36
    assert COMMANDS[27].__doc__ and COMMANDS[27].__doc__.startswith("27. Replay Parked Events")
    assert COMMANDS[28].__doc__ and COMMANDS[28].__doc__.startswith("28. Node Log")
    transcript = io.StringIO()
    render_menu(Printer(stream=transcript))
    lab = transcript.getvalue().split("🧪 Cluster Lab:\n")[1]
    assert "27. Replay Parked Events" in lab and "28. Node Log" in lab
    assert max(len(line) for line in lab.splitlines()) <= 80


async def test_a_script_waits_and_bad_answers_get_one_line(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    script = "wait 0.2\nwait 0\nwait soon\n27\nnope\n10\nquiet\n$all\n\n27\nquiet\n15\n"
    run = await run_script(["--connect", cluster.url], script, tmp_path)
    assert_clean(run)
    lines = run.stdout.splitlines()
    assert "👉 Select an option (1-36): wait 0.2" in lines
    assert lines[lines.index("👉 Select an option (1-36): wait 0.2") + 1] == "⏳ Waiting 0.2 s…"
    assert "❌ 0 is out of range: type 'wait N' with N seconds, more than 0 and at most 60" in lines
    assert (
        "❌ 'soon' is not a number: type 'wait N' with N seconds, more than 0 and at most 60"
        in lines
    )
    assert "❌ no subscription named 'nope' (subscriptions: none)" in lines
    assert "👉 Select an option (1-36): 10" in lines  # the menu goes on after each error
    assert "Subscriptions: quiet (0 parked)" in lines
    assert "⚠️  'quiet' has no parked events (option 26 parks some with nack_park)" in lines


async def test_an_operation_without_a_majority_says_so(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    cluster = await make_cluster()
    # node2 stopped, then the leader killed: 1 of 3 up; the status and a write say why.
    script = "17\nnode2\n18\n\n14\n13\ngreenhouse-1\n1\n15\n"
    run = await run_script(["--connect", cluster.url], script, tmp_path)
    assert_clean(run)
    lines = run.stdout.splitlines()
    assert "✅ Stopped node2; leader node1 (term 1)" in lines
    killed = "⚠️  Killed node1 (the leader); no majority: 1 of 3 nodes up, 2 are needed"
    assert killed in lines, run.stdout[-1500:]
    assert lines[lines.index(killed) + 1] == (
        "Until one is back no leader is elected and nothing is written (option 19 starts a node)"
    )
    no_majority = "❌ no majority: 1 of 3 nodes up, 2 are needed (option 19 starts a node)"
    status = run.stdout.split("🔗 Cluster Status")[1].split("👉")[0]
    assert no_majority in status.splitlines()  # option 14
    append = run.stdout.split("Number of events to append (default 5): 1\n")[1].splitlines()
    assert append[0] == no_majority
    # The engine's own words follow (a write it could not confirm may still commit later).
    assert append[1].startswith("The engine is not answering: "), append[1]


async def test_a_scripts_bad_answer_is_one_line_then_the_menu(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    # Each bad answer: its ❌ line at once, then the next line is read at the menu (never asked
    # again, which could loop on a wrong line for ever); an empty answer cancels.
    script = "12\nno-such\n14\n25\n$all\n14\n3\nbroken\n%{operator: John}\n14\n12\n\n14\n15\n"
    run = await run_script(["--connect", cluster.url], script, tmp_path)
    assert_clean(run)
    lines = run.stdout.splitlines()
    menu = "👉 Select an option (1-36): 14"
    for error in (
        "❌ there is no stream 'no-such' yet (streams: ",
        "❌ '$all' is not a stream id; type one such as greenhouse-1",
        "❌ expected a value",
        "⚠️  Cancelled",
    ):
        (at,) = [i for i, line in enumerate(lines) if line.startswith(error)]
        assert lines[at + 1] == menu, lines[at - 2 : at + 2]
    assert "Number of events to fetch" not in run.stdout  # option 12 asked nothing more
    assert "Direction" not in run.stdout  # nor option 25


async def test_ask_at_a_terminal_asks_and_checks_when_the_next_question_comes(
    cluster: RunningCluster,
) -> None:
    async with running_repl(cluster.url) as (repl, shell):
        await repl.choose('ask "Who leads now?" node1|node2|nobody -> leader')
        await repl.printed("❓ Who leads now?")
        prompt = "Your answer (1 node1 · 2 node2 · 3 nobody): "
        await repl.answer(prompt, "node9")  # a wrong word: one line, and the question again
        await repl.printed("❌ 'node9' is not one of the choices: 1 node1 · 2 node2 · 3 nobody")
        await repl.answer(prompt, "1")
        # A bad ask line is one line, and the menu again.
        await repl.choose('ask "Who leads now? node1|node2')
        await repl.printed('the question has no closing quote: type \'ask "Question?"')
        # A new question ends the step of the one before: it is checked against the cluster.
        await repl.choose('ask "Did it lose anything?" yes|no')
        await repl.printed(
            "❓ You answered node1: right, the answer was node1 (the leader after the step)"
        )
        await repl.answer("Your answer (1 yes · 2 no): ", "")  # empty: skipped
        await repl.printed("⚠️  No answer: the question is skipped")
        await repl.choose(15)  # the end of the session ends the last question's step
        await repl.printed("❓ Asked: Did it lose anything?\n❓ You did not answer\n")
        assert await shell == 0


async def test_a_script_slows_the_cluster_down_and_makes_a_link_lossy(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    cluster = await make_cluster()
    # The lesson line, option 34, option 35 (a fault, a bad answer, then all zero clears).
    script = (
        "tempo 5\ntempo 0\n34\n1\n35\nnode1\nnode2\n30\n200\n5\n"
        "35\nnode1\nall\n101\n35\nnode1\nnode2\n0\n0\n0\n15\n"
    )
    run = await run_script(["--connect", cluster.url], script, tmp_path)
    assert_clean(run)
    lines = run.stdout.splitlines()
    assert "✅ tempo ×1/5: elections, heartbeats and messages 5 times slower" in lines, run.stdout
    assert "❌ tempo must be at least 1" in lines
    assert "✅ tempo ×1: full speed again" in lines
    assert "✅ node1 → node2: drop 30% · +200 ms · dup 5%" in lines
    assert "❌ drop must be a percentage from 0 to 100, not '101'" in lines
    assert "✅ node1 → node2: link faults cleared" in lines
    async with cluster.new_client() as client:
        assert (await client.tempo())["scale"] == 1
        assert (await client.link_faults())["links"] == []

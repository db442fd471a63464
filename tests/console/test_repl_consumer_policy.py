"""gate-repl's lab option 26, Set Consumer Ack Policy: a running consumer's policy changed at the
prompt (its RECEIVED lines and the subscription's counters follow), a consumer started with a
policy from a script, and every bad answer as one ``❌`` line before the menu comes back."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from console.ops.subscriptions import COUNTERS_NOTE, ConsumerPolicy, SubscriptionRow
from console.repl.commands.subscriptions import show_subscriptions
from console.repl.menu import COMPACT_MENU, TITLES, render_menu
from console.repl.printer import Printer
from console.repl.shell import COMMANDS
from tests.cluster_harness import RunningCluster
from tests.console.repl_driver import ReplDriver, running_repl
from tests.console.script_runs import assert_clean, run_script

CTRL_C = "\x03"
# Option 11's tables: what a subscription is (its Here cell last), then its counters.
_COUNTERS = ("checkpoint", "consumers", "in_flight", "parked", "delivered", "acked", "nacked")


def _here_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(name)}\s+by_stream \S+\s+\S+(?P<here>.*)$", re.MULTILINE)


def _counters_pattern(name: str) -> re.Pattern[str]:
    counters = r"\s+".join(rf"(?P<{c}>\d+)" for c in _COUNTERS)
    return re.compile(rf"^{re.escape(name)}\s+{counters}\s*$", re.MULTILINE)


async def _wait_for_counters(
    repl: ReplDriver, name: str, expected: dict[str, int], timeout: float = 20.0
) -> str:
    """List the subscriptions (option 11) until ``name``'s counters are ``expected``; answers
    its Here cell.  The engine counts acks and nacks as they arrive, so this polls."""
    deadline = time.monotonic() + timeout
    while True:
        await repl.choose(11)
        await repl.printed(COMPACT_MENU)  # both tables are out
        shown = repl.since_mark()
        here, row = _here_pattern(name).search(shown), _counters_pattern(name).search(shown)
        assert here and row, shown
        counters = {c: int(row[c]) for c in expected}
        if counters == expected:
            return here["here"].strip()
        assert time.monotonic() < deadline, f"{name}: {counters}, expected {expected}"


def test_option_11_fits_80_columns() -> None:
    """Both of option 11's tables, for a 10-character name, a long selector, counters in the
    hundreds of thousands and the longest Here cell a policy gives."""
    row = SubscriptionRow(
        name="heat_audit",
        selector="by_stream $greenhouse-12",
        start_from="origin",
        checkpoint=123_456,
        consumers=2,
        in_flight=100,
        parked=12_345,
        delivered=123_456,
        acked=111_111,
        nacked=12_345,
        consuming_here=True,
        policy=ConsumerPolicy("nack_retry", 12),
    )
    transcript = io.StringIO()
    show_subscriptions(Printer(stream=transcript), [row])
    out = transcript.getvalue()
    assert "consuming · retries every 12th" in out and "111111" in out, out
    assert max(len(line) for line in out.splitlines()) <= 80, out


async def _append(repl: ReplDriver, stream: str, count: int) -> None:
    """Option 13: append ``count`` generated events to ``stream``."""
    await repl.choose(13)
    await repl.answer("Enter stream name: ", stream)
    await repl.answer("append (default 5)", str(count))


async def _set_policy(repl: ReplDriver, name: str, action: str, every: str | None = None) -> None:
    """Option 26's answers: the subscription, the action and, for a nack, every how many."""
    await repl.choose(26)
    await repl.answer("Enter subscription name: ", name)
    await repl.answer("Enter action (default: ack): ", action)
    if every is not None:
        await repl.answer("Nack every Nth event (default 1): ", every)


def _outcomes(output: str, subscription: str, stream: str) -> dict[int, str]:
    """What the consumer did with each version of ``stream`` per its RECEIVED lines: ``acked``,
    ``parked``… (the last line for a version wins; ``-`` for the classic line without one)."""
    outcomes: dict[int, str] = {}
    line = re.compile(
        rf'^RECEIVED \["{subscription}" "{stream}:\S+ v\((\d+)\) => .*"\](?: → (.+))?$',
        re.MULTILINE,
    )
    for match in line.finditer(output):
        outcomes[int(match[1])] = match[2] or "-"
    return outcomes


def test_option_26_is_in_the_lab_and_the_menu_fits_80_columns() -> None:
    assert TITLES[26] == "Set Consumer Ack Policy"
    assert COMMANDS[26].__doc__ and COMMANDS[26].__doc__.startswith("26. Set Consumer Ack Policy")
    transcript = io.StringIO()
    render_menu(Printer(stream=transcript))
    menu = transcript.getvalue()
    lab = menu.split("🧪 Cluster Lab:\n")[1]
    assert "26. Set Consumer Ack Policy" in lab
    assert all(f"  {n}. {TITLES[n]}\n" in menu for n in range(1, 16)), "the classic 15 stay"
    assert max(len(line) for line in lab.splitlines()) <= 80


async def test_policy_of_a_running_consumer_and_bad_answers(cluster: RunningCluster) -> None:
    async with running_repl(cluster.url) as (repl, shell):
        await repl.choose(26)
        await repl.answer("Enter subscription name: ", "ghost")
        await repl.printed("❌ no subscription named 'ghost' (subscriptions: ")
        await repl.answer("Enter subscription name: ", "")  # empty: back to the menu
        await repl.printed("⚠️  Cancelled")

        # Four events, consumed here from version 0 and acked, as option 10 always does.
        await _append(repl, "policy-1", 4)
        await repl.printed("✅ Appended 4 events to 'policy-1' (now at version 3)")
        await repl.choose(10)
        await repl.answer("Enter subscription name: ", "pol_sub")
        await repl.answer("Enter stream name: ", "policy-1")
        await repl.answer("Start from version (default 0): ", "")
        await repl.printed("Option 26 makes it nack every Nth event instead")
        here = await _wait_for_counters(repl, "pol_sub", {"acked": 4, "parked": 0})
        assert here == "consuming"
        # What a failover does to the counts, under the tables.
        assert "\n".join(COUNTERS_NOTE) in repl.since_mark()

        # Bad answers: one ❌ line each, then the same question again; Ctrl+C leaves it.
        await repl.choose(26)
        await repl.answer("Enter subscription name: ", "pol_sub")
        bad = (
            (
                "Enter action (default: ack): ",
                "shrug",
                "❌ unknown consumer action 'shrug' (one of ack, nack_retry, nack_park",
            ),
            ("Enter action (default: ack): ", "9", "❌ unknown consumer action '9'"),
            ("Enter action (default: ack): ", "nack_park", ""),
            (
                "Nack every Nth event (default 1): ",
                "0",
                "❌ N (nack every Nth event) must be at least 1",
            ),
            (
                "Nack every Nth event (default 1): ",
                "two",
                "❌ N (nack every Nth event) must be a whole number from 1 to 1000, not 'two'",
            ),
        )
        for prompt, typed, error in bad:
            await repl.answer(prompt, typed)
            if error:
                await repl.printed(error)
                await repl.asks(prompt)  # the same question again
                shown = repl.since_mark()
                assert shown.count("❌") == 1 and "✅" not in shown, shown
        await repl.press("Nack every Nth event (default 1): ", CTRL_C)
        await repl.printed("⚠️  Cancelled")

        # Nothing changed: the consumer still acks everything.
        await repl.choose(26)
        await repl.printed("Consumed here: pol_sub (acks all)")
        await repl.answer("Enter subscription name: ", "pol_sub")
        await repl.answer("Enter action (default: ack): ", "nack_park")
        await repl.answer("Nack every Nth event (default 1): ", "2")
        await repl.printed("✅ The consumer of 'pol_sub' now parks every 2nd")

        # Deliveries 5 to 8 (versions 4 to 7): the 6th and the 8th are parked.
        await _append(repl, "policy-1", 4)
        await repl.printed("(now at version 7)")
        here = await _wait_for_counters(repl, "pol_sub", {"acked": 6, "parked": 2, "nacked": 2})
        assert here == "consuming · parks every 2nd"
        await repl.choose(5)
        await repl.answer("Enter observer name to monitor: ", "pol_sub")
        await repl.printed("Subscription consumer: pol_sub (parks every 2nd)")
        await repl.printed("v(7) => ")
        repl.keys.send_text(CTRL_C)
        await repl.printed("Stopped monitoring pol_sub")
        outcomes = _outcomes(repl.output, "pol_sub", "policy-1")
        assert outcomes == {
            **dict.fromkeys(range(4), "-"),
            4: "acked",
            5: "parked",
            6: "acked",
            7: "parked",
        }

        # The default action, by number or by Enter, acks everything again without asking N.
        await _set_policy(repl, "pol_sub", "")
        await repl.printed("✅ The consumer of 'pol_sub' now acks all")
        await _set_policy(repl, "pol_sub", "2", "")
        await repl.printed("✅ The consumer of 'pol_sub' now retries every event")
        await repl.choose(15)
        assert await shell == 0
        assert "Traceback" not in repl.output


async def test_a_script_starts_a_consumer_with_a_policy(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    # A subscription this console does not consume yet: option 26 starts consuming it.
    async with cluster.new_client() as client:
        await client.put_subscription(
            "reg_gh", "script_pol", {"by_stream": "$script-pol"}, start_from=0
        )
    script = "\n".join(
        (
            "13",
            "script-pol",
            "3",
            "26",
            "script_pol",
            "nack_skip",
            "0",  # bad: one error line, and the script goes on at the menu
            "26",
            "script_pol",
            "nack_skip",
            "",  # every event
            "5",
            "script_pol",
            "11",
            "15",
            "",
        )
    )
    run = await run_script(["--connect", cluster.url], script, tmp_path)
    assert_clean(run)
    out = run.stdout
    lines = out.splitlines()
    error = lines.index("❌ N (nack every Nth event) must be at least 1")
    assert lines[error + 1].startswith("👉 Select an option (1-36): 26")
    assert "✅ Consuming 'script_pol' here; the consumer skips every event" in out
    assert "Subscription consumer: script_pol (skips every event)" in out
    assert _outcomes(out, "script_pol", "script-pol") == dict.fromkeys(range(3), "skipped")
    table = out.split("📋 Subscriptions\n")[1]
    here = _here_pattern("script_pol").search(table)
    assert here and here["here"].strip() == "consuming · skips every event", table
    assert "🛑 Stopped consumer of subscription: script_pol" in out

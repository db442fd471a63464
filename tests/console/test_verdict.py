"""Issue #25: the console's live verdict, its line, and on a real cluster whose leader is
killed -9.

The console's own greenhouse producers run; the verdict monitor reads back, from every node,
what they got acknowledged.  The leader is SIGKILLed (the gateway restarts it); the verdict
keeps counting and never finds anything lost, duplicated or out of order, and once the
producers stop every acknowledged event is checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from console.ops.operations import Operations
from console.ops.session import SessionOptions
from console.ops.verdict import verdict_text
from engine.client.checker import LiveVerdict, Violation
from tests.cluster_harness import RunningCluster, kill_pid
from tests.console.waiting import eventually


def test_the_verdict_line() -> None:
    assert verdict_text(None) == ("", True)  # no producer started: no line
    clean = LiveVerdict(12_400, 12_345, 0, 0, 0, 0, 0, None)
    assert verdict_text(clean) == ("checked 12,345 acked · 0 lost · 0 duplicated · order ok", True)
    assert verdict_text(clean, unreadable=True) == (
        "checked 12,345 acked · 0 lost · 0 duplicated · order ok · no node answers its own reads",
        False,
    )
    first = Violation("duplicated", "node3", "greenhouse-1", "e102", "at positions 102 and 111")
    assert verdict_text(LiveVerdict(9, 9, 0, 1, 0, 0, 0, first)) == (
        "✗ duplicated: greenhouse-1 e102 on node3 (at positions 102 and 111)",
        False,
    )


@pytest.mark.slow
async def test_verdict_stays_clean_while_the_leader_is_killed(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
) -> None:
    cluster = await make_cluster()
    ops = await Operations.open(SessionOptions(connect=cluster.url), seed=25)
    try:
        await ops.producers.start(3)

        def checked() -> int:
            verdict = ops.verdict.latest
            assert verdict is not None and verdict.ok, verdict_text(verdict)[0]
            return verdict.checked

        await eventually(lambda: checked() >= 30, 30, "30 acknowledged events checked")
        leader = await cluster.leader()
        kill_pid(await cluster.node_pid(leader))
        before = checked()
        await eventually(lambda: checked() >= before + 30, 60, "30 more checked after the kill")
        await ops.producers.stop_all()
        produced = sum(row.produced for row in ops.producers.rows())
        verdict = ops.verdict.latest
        assert verdict is not None and verdict.acked == produced  # every acknowledgement told
        # Every acknowledgement judged on every node, the restarted one too (then forgotten).
        checker = ops.verdict.checker
        assert checker is not None
        await eventually(
            lambda: checked() == produced and checker.remembered()[0] == 0,
            60,
            "every acknowledged event checked on every node",
        )
        text, ok = verdict_text(ops.verdict.latest)
        assert ok and text == f"checked {produced:,} acked · 0 lost · 0 duplicated · order ok"
        print(f"\n{leader} killed -9; {text}")
    finally:
        await ops.close()

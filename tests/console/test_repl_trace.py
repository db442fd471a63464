"""Option 36, the message trace, played by ``gate-repl`` against a real cluster: in slow motion
every heartbeat is its own line, at full speed they fold into one line per half second."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.cluster_harness import RunningCluster
from tests.console.script_runs import assert_clean, run_script

SCRIPT = """\
tempo 20
wait 1
36
4
tempo 1
36
2
15
"""


def _section(out: str, n: int) -> str:
    """The ``n``-th trace option's output, up to the next prompt."""
    return out.split("📨 Message Trace\n")[n].split("👉")[0]


async def test_the_trace_option_prints_the_messages_heartbeats_unfolded_in_slow_motion(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    cluster = await make_cluster()
    leader = await cluster.leader()
    run = await run_script(["--connect", cluster.url], SCRIPT, tmp_path)
    (tmp_path / "transcript.txt").write_text(run.stdout)
    assert_clean(run)
    out = run.stdout
    slow = _section(out, 1)
    assert "Seconds to watch (default 10): 4" in slow
    assert "tempo ×1/20: every heartbeat its own line" in slow, slow
    # A heartbeat a second to each follower, each its own line: sender → receiver, words.
    beats = re.findall(rf"^\d\d:\d\d\.\d{{3}}  {leader} → (node\d)\s+heartbeat t\d+", slow, re.M)
    assert len(set(beats)) == 2 and len(beats) >= 4, slow
    shown = re.search(r"Stopped the trace: (\d+) lines", slow)
    assert shown and int(shown.group(1)) >= len(beats), slow
    fast = _section(out, 2)
    assert "tempo ×1: heartbeats folded per half second" in fast, fast
    assert re.search(r"^\d\d:\d\d\.\d{3}  node1, node2, node3\s+♥ \d+ heartbeats", fast, re.M), fast
    assert not re.search(r"→ node\d\s+heartbeat t", fast), fast

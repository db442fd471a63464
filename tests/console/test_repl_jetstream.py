"""gate-repl against a gateway with ``backend: jetstream``: the menu keeps every number but marks
what operates Gate's own Raft (the node log, partitions, tempo, link faults, membership, the
message trace) as not on JetStream, and choosing one is refused in one line before any of its
questions; a leadership transfer moves the store streams' leaders, and the shell goes on
(docs/CONSOLE.md, "On JetStream").  Lessons 1-4 on JetStream are in
tests/console/test_lessons.py."""

from __future__ import annotations

import re
from pathlib import Path

from console.ops.catalogue import numbered
from console.repl.menu import LAST
from tests.console.script_runs import assert_clean, run_script
from tests.console.test_repl_screen import NOT_ON_JETSTREAM, menu_options
from tests.jetstream_cluster import JetStreamGateway

# In the script's order; none of them asks its questions first (a script's next line would
# be taken as the answer, not as the next menu choice).
REFUSED = (28, 30, 31, 32, 33, 34, 35, 36)


async def test_gate_only_operations_are_marked_and_one_line_each(
    jetstream_cluster: JetStreamGateway, tmp_path: Path
) -> None:
    script = "\n".join(
        [
            "28",  # node log
            "30",  # isolate
            "31",  # heal
            *("29", "nats2"),  # transfer leadership: the store streams' leaders move
            "32",  # add a node
            "33",  # remove a node
            "34",  # slow motion
            "35",  # link faults
            "36",  # message trace
            "14",
            *("16", "nats2"),  # node health detail
            "15",
        ]
    )
    run = await run_script(["--connect", jetstream_cluster.url], script, tmp_path, timeout=120)
    assert_clean(run)
    # The menu (a script's: the tall one, once) marks what the backend lacks, and only that.
    menu = run.stdout.split("========== Gate Interactive Console ==========\n")[1]
    menu = menu.split("👉")[0].splitlines()
    assert "🧪 Cluster Lab: (✗ not on JetStream)" in menu, menu
    assert menu_options(menu) == (list(range(1, LAST + 1)), NOT_ON_JETSTREAM)
    assert set(REFUSED) == NOT_ON_JETSTREAM
    refused = [ln for ln in run.stdout.splitlines() if ln.startswith("❌")]
    assert refused == [
        f"❌ Option {n}: {numbered(n).title} is not on JetStream (only Gate's own nodes have it)"
        for n in REFUSED
    ]
    assert "backend jetstream:" not in run.stdout  # refused here: the gateway was not asked
    assert "nats2 leads the stores'" in run.stdout or "nats2 leads already" in run.stdout
    # Nothing was changed: the three servers are still there, one of them leading.
    status = run.stdout.split("🔗 Cluster Status\n")[1]
    assert "3/3 nodes up" in status and "Leader: nats" in status, status
    assert "★ meta leader · lag: messages" in status and "log indexes" not in status, status
    # A server's detail leaves out the Raft internals JetStream does not show.
    detail = run.stdout.split("🩺 Node Health Detail\n")[1]
    for field in ("Voted for", "Election timer", "Leader's match/next", "Raft links"):
        assert re.search(rf"^{re.escape(field)}\s+-$", detail, re.M), (field, detail)

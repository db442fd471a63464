"""gate-repl against a gateway with ``backend: jetstream``: what operates Gate's own Raft (the
node log, partitions, leadership transfer, tempo, link faults, membership) is refused in one
line naming the backend, and the shell goes on (docs/CONSOLE.md, "On JetStream").  Lessons 1-4
on JetStream are in tests/console/test_lessons.py."""

from __future__ import annotations

import re
from pathlib import Path

from tests.console.script_runs import assert_clean, run_script
from tests.jetstream_cluster import JetStreamGateway

ONLY = "Gate's nodes only (nats-servers run their own Raft)"


async def test_gate_only_operations_are_one_line_each(
    jetstream_cluster: JetStreamGateway, tmp_path: Path
) -> None:
    script = "\n".join(
        [
            *("28", "nats2", "20"),  # node log
            *("30", "nats2", "", ""),  # isolate: from every peer, both ways
            *("29", "nats2"),  # transfer leadership
            *("34", "5"),  # slow motion
            *("35", "nats1", "nats2", "30", "0", ""),  # link faults
            *("33", "nats3"),  # remove a node (a script is not asked to confirm)
            "14",
            *("16", "nats2"),  # node health detail
            "15",
        ]
    )
    run = await run_script(["--connect", jetstream_cluster.url], script, tmp_path, timeout=120)
    assert_clean(run)
    refused = [ln for ln in run.stdout.splitlines() if ln.startswith("❌")]
    assert [ln.split(":")[0:2] for ln in refused] == [
        ["❌ backend jetstream", " the node log"],
        ["❌ backend jetstream", " isolating and healing a node"],
        ["❌ backend jetstream", " leadership transfer"],
        ["❌ backend jetstream", " slow motion (tempo)"],
        ["❌ backend jetstream", " link faults"],
        ["❌ backend jetstream", " removing a node"],
    ], refused
    assert all(ONLY in ln for ln in refused), refused
    # Nothing was changed: the three servers are still there, one of them leading.
    status = run.stdout.split("🔗 Cluster Status\n")[1]
    assert "3/3 nodes up" in status and "Leader: nats" in status, status
    # A server's detail leaves out the Raft internals JetStream does not show.
    detail = run.stdout.split("🩺 Node Health Detail\n")[1]
    for field in ("Voted for", "Election timer", "Leader's match/next", "Raft links"):
        assert re.search(rf"^{re.escape(field)}\s+-$", detail, re.M), (field, detail)

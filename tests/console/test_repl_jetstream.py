"""gate-repl against a gateway with ``backend: jetstream``: what operates Gate's own Raft (the
node log, partitions, tempo, link faults, membership) is refused in one line naming the
backend, a leadership transfer moves the store streams' leaders, and the shell goes on
(docs/CONSOLE.md, "On JetStream").  Lessons 1-4 on JetStream are in
tests/console/test_lessons.py."""

from __future__ import annotations

import re
from pathlib import Path

from tests.console.script_runs import assert_clean, run_script
from tests.jetstream_cluster import JetStreamGateway

WHY = {
    "node log": "a nats-server's log is its own",
    "isolate": "link cuts are Gate's own transport's",
    "tempo": "nats-servers keep their own timing",
    "link faults": "link faults are Gate's own transport's",
    "remove": "the servers are the config's",
}


async def test_gate_only_operations_are_one_line_each(
    jetstream_cluster: JetStreamGateway, tmp_path: Path
) -> None:
    script = "\n".join(
        [
            *("28", "nats2", "20"),  # node log
            *("30", "nats2", "", ""),  # isolate: from every peer, both ways
            *("29", "nats2"),  # transfer leadership: the store streams' leaders move
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
    assert len(refused) == len(WHY), refused
    for line, (what, why) in zip(refused, WHY.items(), strict=True):
        assert line.startswith(f"❌ backend jetstream: {why}"), (what, line)
    assert "nats2 leads the stores'" in run.stdout or "nats2 leads already" in run.stdout
    # Nothing was changed: the three servers are still there, one of them leading.
    status = run.stdout.split("🔗 Cluster Status\n")[1]
    assert "3/3 nodes up" in status and "Leader: nats" in status, status
    assert "★ meta leader · lag: messages" in status and "log indexes" not in status, status
    # A server's detail leaves out the Raft internals JetStream does not show.
    detail = run.stdout.split("🩺 Node Health Detail\n")[1]
    for field in ("Voted for", "Election timer", "Leader's match/next", "Raft links"):
        assert re.search(rf"^{re.escape(field)}\s+-$", detail, re.M), (field, detail)

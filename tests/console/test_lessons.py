"""The lessons in examples/lessons/, run as scripts (``gate-repl --connect URL < lesson.txt``)
against real clusters, with assertions on their plain output."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.cluster_harness import RunningCluster
from tests.console.script_runs import LESSONS, assert_clean, run_script


def _seen(output: str, observer: str) -> list[str]:
    """The SEEN lines printed while monitoring ``observer`` (each monitor section)."""
    lines: list[str] = []
    for section in output.split(f"👁️  Monitoring: {observer}\n")[1:]:
        body = section.split(f"Stopped monitoring {observer}")[0]
        lines += [ln for ln in body.splitlines() if ln.startswith(("SEEN", "RECEIVED"))]
    return lines


async def test_lesson_1_event_flow(cluster: RunningCluster, tmp_path: Path) -> None:
    run = await run_script(
        ["--connect", cluster.url, "--seed", "1"], LESSONS / "01-event-flow.txt", tmp_path
    )
    assert_clean(run)
    out = run.stdout
    assert "✅ Observer 'flow' created for stream '$all'" in out
    seen = _seen(out, "flow")
    assert len(seen) == 5 and seen[0].startswith('SEEN ["greenhouse-1:initialized:v1 (v0) => ')
    assert "📄 Events from 'greenhouse-1' (version 4):" in out
    assert "✅ Started 2 producers: greenhouse-1, greenhouse-2" in out
    assert "✅ Producer for 'greenhouse-1' stopped" in out
    assert "✅ Producer for 'greenhouse-2' stopped" in out
    assert "✅ Observer 'flow' stopped" in out
    assert "# Lesson 1: event flow." in out  # comments are part of the transcript


async def test_lesson_2_type_filtering(cluster: RunningCluster, tmp_path: Path) -> None:
    run = await run_script(
        ["--connect", cluster.url, "--seed", "2"], LESSONS / "02-type-filtering.txt", tmp_path
    )
    assert_clean(run)
    temperatures, fans = _seen(run.stdout, "temperatures"), _seen(run.stdout, "fans")
    assert temperatures and all(":temperature_measured:v1 (v" in ln for ln in temperatures)
    # Lesson 1's producers may have written greenhouse-2 before: versions are not fixed here.
    assert re.fullmatch(
        r'SEEN \["greenhouse-2:temperature_measured:v1 \(v\d+\) => %\{temperature: 23\}"\]',
        temperatures[-1],
    )
    assert all(":fan_activated:v1 (v" in ln for ln in fans)
    assert "❌ 'temperature_reported:v1' is not one of the 15 listed" in run.stdout


async def test_lesson_3_payload_matching(cluster: RunningCluster, tmp_path: Path) -> None:
    run = await run_script(
        ["--connect", cluster.url, "--seed", "3"], LESSONS / "03-payload-matching.txt", tmp_path
    )
    assert_clean(run)
    out = run.stdout
    assert "✅ Observer 'actuators' created for payload pattern %{intensity: _}" in out
    assert "❌ expected a value" in out and "at column 13, found 'J'" in out
    assert _seen(out, "johns") == [
        'SEEN ["greenhouse-3:desired_temperature_set:v1 (v1) => '
        '%{temperature: 21, operator: \\"John\\"}"]'
    ]
    assert _seen(out, "actuators") == [
        'SEEN ["greenhouse-3:fan_activated:v1 (v3) => %{intensity: 40}"]'
    ]
    hot = _seen(out, "hot")  # the random initialized:v1 (v0) may be hot as well
    assert 'SEEN ["greenhouse-3:temperature_measured:v1 (v4) => %{temperature: 31}"]' in hot
    assert all(int(t) >= 30 for t in re.findall(r"temperature: (\d+)", "\n".join(hot)))
    assert "(v5)" not in "\n".join(hot)


async def test_lesson_4_subscriptions_with_acks(cluster: RunningCluster, tmp_path: Path) -> None:
    run = await run_script(
        ["--connect", cluster.url, "--seed", "4"], LESSONS / "04-subscriptions.txt", tmp_path
    )
    assert_clean(run)
    audit = _seen(run.stdout, "audit")
    versions = [int(v) for v in re.findall(r"greenhouse-4:\S+ v\((\d+)\)", "\n".join(audit))]
    assert versions == list(range(8)), audit
    assert all(ln.startswith('RECEIVED ["audit" "greenhouse-4:') for ln in audit)
    late = _seen(run.stdout, "late")
    assert [int(v) for v in re.findall(r" v\((\d+)\)", "\n".join(late))] == [6, 7]
    table = run.stdout.split("📋 Subscriptions\n")[1]
    assert re.search(r"^audit\s+by_stream \$greenhouse-4\s+0\s", table, re.MULTILINE)
    assert re.search(r"^late\s+by_stream \$greenhouse-4\s+6\s", table, re.MULTILINE)


async def test_lesson_5_failover(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    cluster = await make_cluster()
    run = await run_script(
        ["--connect", cluster.url, "--seed", "5"], LESSONS / "05-failover.txt", tmp_path
    )
    assert_clean(run)
    out = run.stdout
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 3 and "Leader: node1 (term" in statuses[0]
    killed = re.search(r"✅ Killed node1 \(the leader\); (node[23]) took over in [\d.]+ s", out)
    assert killed, out
    assert f"Leader: {killed.group(1)} (term" in statuses[1]
    assert re.search(r"^node1\s+down", statuses[1], re.MULTILINE)
    assert "✅ Appended 3 events to 'greenhouse-5' (now at version 5)" in out
    versions = re.findall(r"greenhouse-5:\S+ \(v(\d+)\)", "\n".join(_seen(out, "everything")))
    assert [int(v) for v in versions] == list(range(6))  # nothing lost over the failover
    assert "✅ Started node1" in out
    assert re.search(r"^node1\s+follower", statuses[2], re.MULTILINE)


async def test_lesson_6_nack_and_park(cluster: RunningCluster, tmp_path: Path) -> None:
    run = await run_script(
        ["--connect", cluster.url, "--seed", "6"], LESSONS / "06-nack-and-park.txt", tmp_path
    )
    assert_clean(run)
    out = run.stdout
    received = _seen(out, "sorter")
    versions = [int(v) for v in re.findall(r" v\((\d+)\) => ", "\n".join(received))]
    assert versions == list(range(12)), received
    # Before option 26 the classic line; after it, every 3rd delivery (the 9th, the 12th) parked.
    outcomes = [ln.rsplit("] → ", 1)[1] if "] → " in ln else "-" for ln in received]
    assert outcomes == ["-"] * 6 + ["acked", "acked", "parked"] * 2, received
    assert "✅ The consumer of 'sorter' now parks every 3rd" in out
    table = out.split("📋 Subscriptions\n")[1]
    assert re.search(
        r"^sorter\s+by_stream \$greenhouse-6\s+0\s+consuming · parks every 3rd$",
        table,
        re.MULTILINE,
    )
    # Delivered is counted as events go out; acks, nacks and parks may still be on their way.
    assert re.search(r"^sorter\s+\d+\s+1\s+\d+\s+\d+\s+12\s", table, re.MULTILINE), table
    assert "✅ The consumer of 'sorter' now acks all" in out

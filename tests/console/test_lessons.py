"""The lessons in examples/lessons/, run as scripts (``gate-repl --connect URL < lesson.txt``)
against real clusters, with assertions on their plain output.  Lessons 1-4 run against both
backends: Gate's nodes, and a gateway with ``backend: jetstream`` over three nats-servers.

Each test names the comments whose claims it checks (``_claims``): a comment edited without its
test, or a lesson added without one, fails here, so a lesson and its checks change together.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import pytest

from console.repl.menu import PROMPT
from tests.cluster_harness import RunningCluster
from tests.console.script_runs import LESSONS, assert_clean, run_script
from tests.jetstream_cluster import JetStreamGateway


class Served(Protocol):
    @property
    def url(self) -> str: ...


@pytest.fixture(scope="module", params=["gate", "jetstream"])
def any_cluster(request: pytest.FixtureRequest) -> Served:
    """The module's Gate cluster, then its JetStream-backed gateway (both shared, unbroken)."""
    served: Served = request.getfixturevalue(
        "cluster" if request.param == "gate" else "jetstream_cluster"
    )
    return served


def _claims(lesson: str, *claims: str) -> Path:
    """The lesson's path, once each claim is found in its comments (joined across lines)."""
    path = LESSONS / lesson
    comments = " ".join(
        ln.lstrip("#").strip() for ln in path.read_text().splitlines() if ln.startswith("#")
    )
    for claim in claims:
        assert claim in comments, f"{lesson} no longer says {claim!r}: update its test"
    return path


def _rows(section: str) -> list[list[str]]:
    """The cells (split on 2+ spaces) of the lines before the section's next prompt."""
    body = section.split("👉")[0]
    # A node's id comes after its mark: ★ the leader, ☆ the preferred leader, or two spaces.
    lines = [ln[2:] if ln[:2] in ("★ ", "☆ ", "  ") else ln for ln in body.splitlines()]
    return [re.split(r"\s{2,}", ln.strip()) for ln in lines if ln[:1].isalnum()]


def test_every_lesson_has_a_test() -> None:
    tested = set(re.findall(r'_claims\(\s*"([^"]+)"', Path(__file__).read_text()))
    assert tested == {p.name for p in LESSONS.glob("*.txt")}


def _seen(output: str, observer: str) -> list[str]:
    """The SEEN lines printed while monitoring ``observer`` (each monitor section)."""
    lines: list[str] = []
    for section in output.split(f"👁️  Monitoring: {observer}\n")[1:]:
        body = section.split(f"Stopped monitoring {observer}")[0]
        lines += [ln for ln in body.splitlines() if ln.startswith(("SEEN", "RECEIVED"))]
    return lines


async def test_lesson_1_event_flow(any_cluster: Served, tmp_path: Path) -> None:
    lesson = _claims(
        "01-event-flow.txt",
        "Append five greenhouse events by hand",
        "5 a second each",
        "Each producer has written some 15 events; greenhouse-1 goes on after its first 5.",
        "The observer counted every event: the 5 appended by hand and all the producers wrote.",
    )
    run = await run_script(["--connect", any_cluster.url, "--seed", "1"], lesson, tmp_path)
    assert_clean(run)
    out = run.stdout
    assert "✅ Observer 'flow' created for stream '$all'" in out
    seen = _seen(out, "flow")
    assert len(seen) == 5 and seen[0].startswith('SEEN ["greenhouse-1:initialized:v1 (v0) => ')
    assert "📄 Events from 'greenhouse-1' (version 4):" in out
    assert "✅ Started 2 producers: greenhouse-1, greenhouse-2 (5.0/s each)" in out
    assert "⏳ Waiting 3 s…" in out
    assert "✅ Producer for 'greenhouse-1' stopped" in out
    assert "✅ Producer for 'greenhouse-2' stopped" in out
    # The last producers table, once both stopped: stream, mode, rate, produced, last version.
    last = out.split("📋 Active Producers\n")[-1]
    producers = {r[0]: r for r in _rows(last) if r[0].startswith("greenhouse-")}
    produced = {stream: int(row[3]) for stream, row in producers.items()}
    assert all(10 <= n <= 20 for n in produced.values()), producers  # "some 15" in 3 s
    assert int(producers["greenhouse-1"][4]) == 4 + produced["greenhouse-1"]
    # The live verdict read them back (Gate: from every node; JetStream: through the gateway).
    verdict = re.search(
        r"🔎 checked ([\d,]+) acked · 0 lost · 0 duplicated · order ok$", last, re.M
    )
    assert verdict and int(verdict.group(1).replace(",", "")) > 0, last
    listed = out.split("# The observer counted every event")[1].split("📋 Active Observers\n")[1]
    counted = next(int(r[2]) for r in _rows(listed) if r[0] == "flow")
    assert counted == 5 + sum(produced.values()), (counted, produced)
    assert "✅ Observer 'flow' stopped" in out
    assert "# Lesson 1: event flow." in out  # comments are part of the transcript


async def test_lesson_2_type_filtering(any_cluster: Served, tmp_path: Path) -> None:
    lesson = _claims(
        "02-type-filtering.txt",
        "Only temperature readings reach this observer",
        "and only fan activations this one",
        "A type that is not in the catalogue is refused.",
    )
    run = await run_script(["--connect", any_cluster.url, "--seed", "2"], lesson, tmp_path)
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


async def test_lesson_3_payload_matching(any_cluster: Served, tmp_path: Path) -> None:
    lesson = _claims(
        "03-payload-matching.txt",
        "temperatures of 30 or more",
        "A pattern that does not parse says where it went wrong.",
        "Each observer saw only its matches.",
    )
    run = await run_script(["--connect", any_cluster.url, "--seed", "3"], lesson, tmp_path)
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


async def test_lesson_4_subscriptions_with_acks(any_cluster: Served, tmp_path: Path) -> None:
    lesson = _claims(
        "04-subscriptions.txt",
        "A subscription from version 0 gets the history first",
        "New events keep coming to it.",
        "Another subscription starts later in the stream: from version 6.",
        "checkpoint and counters (delivered, acked...)",
    )
    run = await run_script(["--connect", any_cluster.url, "--seed", "4"], lesson, tmp_path)
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
    # Name, checkpoint, consumers, in flight, parked, delivered, acked, nacked.
    counters = {r[0]: r[2:] for r in _rows(table) if len(r) == 8 and r[0] != "Name"}
    assert counters == {
        "audit": ["1", "0", "0", "8", "8", "0"],
        "late": ["1", "0", "0", "2", "2", "0"],
    }, counters
    # Where the counts live: replicated by Gate; JetStream keeps none, the gateway counts them.
    where = "this gateway's counts" if isinstance(any_cluster, JetStreamGateway) else "replicated"
    assert f"Delivered, acked and nacked are {where}" in table, table


async def test_lesson_5_failover(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    lesson = _claims(
        "05-failover.txt",
        "node1, the preferred leader, on a fresh start",
        "the others elect a new one within seconds",
        "the observer never missed a thing",
        "node1 is a follower again, at the leader's commit and applied index, with no lag.",
    )
    cluster = await make_cluster()
    run = await run_script(["--connect", cluster.url, "--seed", "5"], lesson, tmp_path)
    assert_clean(run)
    out = run.stdout
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 3 and "Leader: node1 (term" in statuses[0]
    killed = re.search(r"✅ Killed node1 \(the leader\); (node[23]) took over in ([\d.]+) s", out)
    assert killed and float(killed.group(2)) < 10, out
    leader = killed.group(1)
    assert f"Leader: {leader} (term" in statuses[1]
    assert re.search(r"^☆ node1\s+down", statuses[1], re.MULTILINE)
    assert "✅ Appended 3 events to 'greenhouse-5' (now at version 5)" in out
    versions = re.findall(r"greenhouse-5:\S+ \(v(\d+)\)", "\n".join(_seen(out, "everything")))
    assert [int(v) for v in versions] == list(range(6))  # nothing lost over the failover
    assert "✅ Started node1" in out
    # Node, role, HTTP, TCP, term, commit, applied, lag: node1 caught up with the leader.
    nodes = {r[0]: r for r in _rows(statuses[2]) if r[0].startswith("node")}
    assert f"Leader: {leader} (term" in statuses[2] and nodes[leader][1] == "leader"
    assert nodes["node1"][1] == "follower", nodes
    assert re.search(r"^☆ node1\s+follower", statuses[2], re.MULTILINE)
    assert nodes["node1"][4:7] == nodes[leader][4:7] and nodes["node1"][7] == "0", nodes


async def test_lesson_6_nack_and_park(cluster: RunningCluster, tmp_path: Path) -> None:
    lesson = _claims(
        "06-nack-and-park.txt",
        "Six events in a fresh stream.",
        'versions 8 and 11, whose RECEIVED lines end in "→ parked"; the others end in "→ acked"',
        "12 delivered, 10 acked, 2 nacked, 2 parked.",
        "The checkpoint (a position in the store) still moves past the parked events",
        "Versions 8 and 11 come once more, and are acked this time.",
        "Nothing parked any more: 14 delivered, 12 acked, still 2 nacked",
    )
    run = await run_script(["--connect", cluster.url, "--seed", "6"], lesson, tmp_path)
    assert_clean(run)
    out = run.stdout
    received = _seen(out, "sorter")
    versions = [int(v) for v in re.findall(r" v\((\d+)\) => ", "\n".join(received))]
    assert versions == [*range(12), 8, 11], received
    # Before option 26 the classic line; after it, every 3rd delivery (the 9th, the 12th)
    # parked; after going back to ack, the classic line again for the replayed ones.
    outcomes = [ln.rsplit("] → ", 1)[1] if "] → " in ln else "-" for ln in received]
    assert outcomes == ["-"] * 6 + ["acked", "acked", "parked"] * 2 + ["-"] * 2, received
    assert "✅ The consumer of 'sorter' now parks every 3rd" in out
    assert "✅ The consumer of 'sorter' now acks all" in out
    assert "✅ Replaying the 2 parked events of 'sorter'" in out
    tables = out.split("📋 Subscriptions\n")[1:]
    assert re.search(
        r"^sorter\s+by_stream \$greenhouse-6\s+0\s+consuming · parks every 3rd$",
        tables[0],
        re.MULTILINE,
    )
    # Name, checkpoint, consumers, in flight, parked, delivered, acked, nacked.
    counters = [r for t in tables for r in _rows(t) if r[0] == "sorter" and len(r) == 8]
    assert [r[2:] for r in counters] == [
        ["1", "0", "2", "12", "10", "2"],
        ["1", "0", "0", "14", "12", "2"],
    ], counters
    # The checkpoint is past the 12 events (positions count every stream of the store).
    assert int(counters[0][1]) >= 12 and counters[1][1] == counters[0][1]


async def test_lesson_7_partitions(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    lesson = _claims(
        "07-partitions.txt",
        "node1, the preferred leader, on a fresh start",
        "it steps down by itself, and the other two elect a leader among themselves",
        "node1 (✂: its links are cut) is no longer the leader; another node leads in a higher term",
        "node1 is a follower again, its links whole, at the leader's commit index.",
        "Nothing was lost or written twice: the observer counted exactly what the producers wrote.",
    )
    cluster = await make_cluster()
    run = await run_script(["--connect", cluster.url, "--seed", "7"], lesson, tmp_path)
    assert_clean(run)
    out = run.stdout
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 3 and "Leader: node1 (term" in statuses[0], out
    first_term = int(re.search(r"Leader: node1 \(term (\d+)\)", statuses[0]).group(1))  # type: ignore[union-attr]
    assert "✅ node1 isolated (the leader): it steps down (no quorum)" in out
    cut = re.search(r"Leader: (node[23]) \(term (\d+)\)", statuses[1])
    assert cut and int(cut.group(2)) > first_term, statuses[1]
    leader = cut.group(1)
    nodes = {r[0]: r for r in _rows(statuses[1]) if r[0].startswith("node")}
    assert nodes["node1 ✂"][1] != "leader", nodes  # stepped down by itself
    assert "✅ node1 healed: every Raft link back; it follows the leader again" in out
    nodes = {r[0]: r for r in _rows(statuses[2]) if r[0].startswith("node")}
    assert "node1" in nodes and nodes["node1"][1] == "follower", nodes  # no ✂ any more
    assert nodes["node1"][5] == nodes[leader][5], nodes  # commit index
    # Nothing lost or doubled across the partition: what the observer saw is what was written.
    producers = out.split("📋 Active Producers\n")[-1]
    produced = {r[0]: int(r[3]) for r in _rows(producers) if r[0].startswith("greenhouse-")}
    assert set(produced) == {"greenhouse-1", "greenhouse-2"} and min(produced.values()) > 10
    # The live verdict under the table: every node read back, nothing lost, doubled or moved.
    verdict = re.search(r"🔎 checked ([\d,]+) acked · 0 lost · 0 duplicated · order ok", producers)
    assert verdict and int(verdict.group(1).replace(",", "")) > 0, producers
    listed = out.split("📋 Active Observers\n")[-1]
    counted = next(int(r[2]) for r in _rows(listed) if r[0] == "everything")
    assert counted == sum(produced.values()), (counted, produced)


async def test_lesson_8_growing(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    lesson = _claims(
        "08-growing.txt",
        "compacts the start of its log into a snapshot",
        "it joins as a learner, and the gateway launches it",
        "Four nodes, all voters: node4 is a follower like the others.",
        "node4's log starts after the snapshot it was sent, not at index 1 (Log held).",
        "Remove node2 (a script is not asked to confirm): three voters again.",
    )
    cluster = await make_cluster(extra={"replication": {"compactAfter": 20}})
    run = await run_script(["--connect", cluster.url, "--seed", "8"], lesson, tmp_path)
    assert_clean(run)
    out = run.stdout
    assert re.search(r"✅ node4 joins as a learner \(log index \d+\)", out), out
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 2, out
    grown = {r[0]: r for r in _rows(statuses[0]) if r[0].startswith("node")}
    assert set(grown) == {"node1", "node2", "node3", "node4"}, grown
    assert grown["node4"][1] == "follower", grown  # promoted: a learner reads "learner"
    assert "4/4 nodes up" in statuses[0]
    detail = out.split("🩺 Node Health Detail\n")[1]
    held = re.search(r"Log held\s+(\d+)\.\.(\d+)", detail)
    assert held and int(held.group(1)) > 1, detail  # from a snapshot, not from index 1
    assert re.search(r"Voter\s+yes", detail), detail
    assert re.search(r"✅ node2 removed \(log index \d+\); its data stays on disk", out), out
    shrunk = {r[0]: r for r in _rows(statuses[1]) if r[0].startswith("node")}
    assert set(shrunk) == {"node1", "node3", "node4"}, shrunk
    assert "3/3 nodes up" in statuses[1]


async def test_lesson_9_predict(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    lesson = _claims(
        "09-predict.txt",
        "each seat answers each question with a key before its step runs",
        "node1, the preferred leader, on a fresh start",
        "The other two hold an election among themselves.",
        "one node is not a majority of three, so no election can be won",
        "the observer missed nothing",
    )
    cluster = await make_cluster()
    run = await run_script(["--connect", cluster.url, "--seed", "9"], lesson, tmp_path)
    assert_clean(run)
    out = run.stdout
    (tmp_path / "transcript.txt").write_text(out)
    lines = out.splitlines()
    # A script answers no question: each is shown with its choices, skipped, and checked once
    # its step has ended (at the next comment, or the end).
    asked = [i for i, line in enumerate(lines) if line.startswith(f"{PROMPT}ask")]
    assert len(asked) == 4
    for at in asked:
        assert lines[at + 1].startswith("❓ ") and lines[at + 2].startswith("Choices: 1 ")
        assert lines[at + 3] == "⚠️  No answer: the question is skipped"
    assert "Choices: 1 node1 · 2 node2 · 3 node3 · 4 nobody (a script does not answer" in out
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 3 and "Leader: node1 (term" in statuses[0]
    killed = re.search(r"✅ Killed node1 \(the leader\); (node[23]) took over", out)
    assert killed, out
    first = killed.group(1)
    assert f"Leader: {first} (term" in statuses[1]
    checked = [line for line in lines if line.startswith("❓ You did not answer")]
    assert checked[0] == (
        f"❓ You did not answer; the answer was {first} (the leader after the step)"
    )
    # The second kill leaves one node of three: nobody leads, and the check says so.
    assert f"⚠️  Killed {first} (the leader); no majority: 1 of 3 nodes up, 2 are needed" in out
    assert checked[1] == "❓ You did not answer; the answer was nobody (the leader after the step)"
    back = re.search(r"Leader: (node[123]) \(term", statuses[2])
    assert back, statuses[2]
    assert checked[2] == (
        f"❓ You did not answer; the answer was {back.group(1)} (the leader after the step)"
    )
    # The last question checks nothing: its lines come when the script ends (option 15).
    last = lines.index("❓ Asked: Did the observer miss any event while nobody led?")
    assert lines[last + 1] == "❓ You did not answer"
    assert lines[last - 1] == f"{PROMPT}15"
    appended = re.findall(r"✅ Appended 3 events to 'greenhouse-9' \(now at version (\d+)\)", out)
    assert len(appended) == 2, out
    listed = out.split("📋 Active Observers\n")[-1]
    counted = next(int(r[2]) for r in _rows(listed) if r[0] == "everything")
    assert counted == int(appended[-1]) + 1, (counted, appended)  # versions 0.. of greenhouse-9


async def test_lesson_10_slow_election(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    lesson = _claims(
        "10-slow-election.txt",
        "node1, the preferred leader, on a fresh start",
        "Slow the cluster down 10 times",
        "Raft runs exactly as before",
        "Full speed again, and node1 back",
        "it follows the new leader",
    )
    cluster = await make_cluster()
    run = await run_script(["--connect", cluster.url, "--seed", "10"], lesson, tmp_path)
    assert_clean(run)
    out = run.stdout
    (tmp_path / "transcript.txt").write_text(out)
    assert "✅ tempo ×1/10: elections, heartbeats and messages 10 times slower" in out, out
    killed = re.search(r"✅ Killed node1 \(the leader\); (node[23]) took over in ([\d.]+) s", out)
    assert killed, out
    leader = killed.group(1)
    assert f"❓ You did not answer; the answer was {leader} (the leader after the step)" in out, out
    assert "✅ tempo ×1: full speed again" in out
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 3 and "Leader: node1 (term" in statuses[0]
    assert f"Leader: {leader} (term" in statuses[2]
    nodes = {r[0]: r for r in _rows(statuses[2]) if r[0].startswith("node")}
    assert nodes["node1"][1] == "follower", nodes


async def test_lesson_11_lost_heartbeat(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    lesson = _claims(
        "11-lost-heartbeat.txt",
        "node1, the preferred leader, on a fresh start",
        "a one-way link fault that drops 100%",
        "node1 still leads, in the same term.",
        "node3, which hears node1, refuses (node1's answer is lost on the faulty link)",
        "A node that cannot win never raises the term",
        "node2 follows node1 again, still in the same term, at the same commit index.",
    )
    cluster = await make_cluster()
    run = await run_script(["--connect", cluster.url, "--seed", "11"], lesson, tmp_path, 90)
    (tmp_path / "transcript.txt").write_text(run.stdout)
    assert_clean(run)
    out = run.stdout
    assert "✅ tempo ×1/10: elections, heartbeats and messages 10 times slower" in out, out
    assert "✅ node1 → node2: drop 100%" in out, out
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 3, out
    term = re.search(r"Leader: node1 \(term (\d+)\)", statuses[0])
    assert term, statuses[0]
    for status in statuses[1:]:
        assert f"Leader: node1 (term {term.group(1)})" in status, status
    assert "❓ You did not answer; the answer was node1 (the leader after the step)" in out
    log = out.split("📜 The newest 8 lines of node2's log:")[1].split("👉")[0]
    assert "election timeout: no word from" in log, log
    assert "asking for pre-votes: could it win term" in log, log
    assert "node3 refused its pre-vote (1 vote, 2 needed)" in log, log
    assert "✅ node1 → node2: link faults cleared" in out, out
    nodes = {r[0]: r for r in _rows(statuses[2]) if r[0].startswith("node")}
    assert nodes["node2"][1] == "follower" and nodes["node2"][5] == nodes["node1"][5], nodes


async def test_lesson_12_lossy_leader(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    lesson = _claims(
        "12-lossy-leader.txt",
        "node1, the preferred leader, on a fresh start",
        "dropped with a chance of 30%",
        "node1 still leads, in the same term",
        "the follower refuses the next one, whose previous entry it lacks, or node1 hears no",
        "either way it sends what is missing and the follower catches up",
        "Nothing was lost or written twice",
    )
    cluster = await make_cluster()
    run = await run_script(["--connect", cluster.url, "--seed", "12"], lesson, tmp_path, 90)
    (tmp_path / "transcript.txt").write_text(run.stdout)
    assert_clean(run)
    out = run.stdout
    assert "✅ node1 → node2, node3: drop 30%" in out, out
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 3, out
    term = re.search(r"Leader: node1 \(term (\d+)\)", statuses[0])
    assert term, statuses[0]
    assert f"Leader: node1 (term {term.group(1)})" in statuses[1], statuses[1]
    nodes = {r[0]: r for r in _rows(statuses[1]) if r[0].startswith("node")}
    assert "node1 ≈" in nodes, nodes
    log = out.split("📜 The newest 12 lines of node1's log:")[1].split("👉")[0]
    repaired = ("refused entries after index", "probing again")
    assert any(words in log for words in repaired) and "caught up at index" in log, log
    assert "✅ node1 → node2, node3: link faults cleared" in out, out
    producers = out.split("📋 Active Producers\n")[-1]
    produced = {r[0]: int(r[3]) for r in _rows(producers) if r[0].startswith("greenhouse-")}
    assert set(produced) == {"greenhouse-1", "greenhouse-2"} and min(produced.values()) > 10
    verdict = re.search(r"🔎 checked ([\d,]+) acked · 0 lost · 0 duplicated · order ok", producers)
    assert verdict and int(verdict.group(1).replace(",", "")) > 0, producers
    listed = out.split("📋 Active Observers\n")[-1]
    counted = next(int(r[2]) for r in _rows(listed) if r[0] == "everything")
    assert counted == sum(produced.values()), (counted, produced)


async def test_lesson_13_split_vote(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    lesson = _claims(
        "13-split-vote.txt",
        "node1, the preferred leader, on a fresh start",
        "each message node2 sends node3, and node3 node2, takes 3 s",
        "Nobody leads: a split vote.",
        'each refused the other\'s vote ("already voted for" itself)',
        "in a higher term: the split term is spent",
        "it follows",
    )
    cluster = await make_cluster()
    run = await run_script(["--connect", cluster.url, "--seed", "13"], lesson, tmp_path, 120)
    (tmp_path / "transcript.txt").write_text(run.stdout)
    assert_clean(run)
    out = run.stdout
    assert "✅ node2 → node3: +3000 ms" in out and "✅ node3 → node2: +3000 ms" in out, out
    statuses = out.split("🔗 Cluster Status\n")[1:]
    assert len(statuses) == 4, out
    first = re.search(r"Leader: node1 \(term (\d+)\)", statuses[0])
    assert first, statuses[0]
    assert "❓ You did not answer; the answer was nobody (the leader after the step)" in out, out
    # Both campaigned in one term, each voting for itself and refusing the other.
    logs = {
        node: re.split(rf"📜 The newest \d+ lines of {node}'s log:", out)[1].split("👉")[0]
        for node in ("node2", "node3")
    }
    split = {
        node: re.findall(
            r"refused its vote to node[23] for term (\d+): already voted for (node[23])", log
        )
        for node, log in logs.items()
    }
    terms = {node: {t for t, voted in found if voted == node} for node, found in split.items()}
    assert terms["node2"] & terms["node3"], logs
    after = re.search(r"Leader: (node[23]) \(term (\d+)\)", statuses[2])
    assert after and int(after.group(2)) >= int(first.group(1)) + 2, statuses[2]
    assert "✅ node1 healed: every Raft link back; it follows the leader again" in out, out
    nodes = {r[0]: r for r in _rows(statuses[3]) if r[0].startswith("node")}
    assert nodes["node1"][1] == "follower", nodes

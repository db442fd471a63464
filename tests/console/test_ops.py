"""The operations layer on its own, against a real cluster (no front end involved)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from console.ops.cluster import ClusterOps
from console.ops.errors import OpsError
from console.ops.observers import ObserverRegistry
from console.ops.operations import Operations
from console.ops.patterns import parse_pattern
from console.ops.session import SessionError, SessionOptions
from console.ops.subscriptions import ConsumerPolicy, parse_policy
from engine.client import GateClient, GateError
from tests.cluster_harness import RunningCluster, free_ports, wait_for
from tests.console.waiting import eventually

MakeCluster = Callable[..., Awaitable[RunningCluster]]


@pytest.fixture
async def ops(cluster: RunningCluster) -> AsyncIterator[Operations]:
    operations = await Operations.open(SessionOptions(connect=cluster.url), seed=11)
    try:
        yield operations
    finally:
        await operations.close()


async def test_observers_see_what_their_selectors_match(ops: Operations) -> None:
    everything = await ops.observers.create_by_stream("ops-obs-1")
    temps = await ops.observers.create_by_event_type("temperature_measured:v1", "temps")
    johns = await ops.observers.create_by_payload(parse_pattern('%{operator: "John"}'))
    assert [everything.name, johns.name] == ["reg_gh:ops-obs-1", "reg_gh:payload"]
    await ops.streams.append_event(
        "ops-obs-1", "initialized:v1", {"temperature": 20, "humidity": 50, "light": 10}
    )
    await ops.streams.append_event("ops-obs-1", "temperature_measured:v1", {"temperature": 23})
    await ops.streams.append_event(
        "ops-obs-1", "desired_humidity_set:v1", {"humidity": 60, "operator": "John"}
    )
    await ops.streams.append_generated("ops-obs-2", 3)
    await eventually(lambda: everything.seen == 3 and johns.seen == 1, what="observed events")
    assert everything.feed.recent()[1:] == [
        'SEEN ["ops-obs-1:temperature_measured:v1 (v1) => %{temperature: 23}"]',
        'SEEN ["ops-obs-1:desired_humidity_set:v1 (v2) => %{humidity: 60, operator: \\"John\\"}"]',
    ]
    assert temps.feed.recent()[-1].startswith('SEEN ["ops-obs-1:temperature_measured:v1 (v1)')
    rows = {row.name: row for row in ops.observers.rows()}
    assert rows["temps"].selector == "by_event_type temperature_measured:v1"
    assert rows["reg_gh:payload"].selector == 'by_event_payload %{operator: "John"}'
    assert rows["reg_gh:ops-obs-1"].state == "running" and rows["reg_gh:ops-obs-1"].seen == 3

    # Defaults never collide; names, kinds and unknowns are checked.
    again = await ops.observers.create_by_stream("$ops-obs-1")
    assert again.name == "reg_gh:ops-obs-1#2"
    with pytest.raises(OpsError, match="exists already"):
        await ops.observers.create_by_stream("$all", "temps")
    with pytest.raises(OpsError, match="unknown event type 'nope'"):
        await ops.observers.create_by_event_type("nope")
    with pytest.raises(OpsError, match="empty pattern would match every event"):
        await ops.observers.create_by_payload({})
    with pytest.raises(OpsError, match=r"no observer named 'ghost' \(observers: "):
        await ops.observers.stop("ghost")
    stopped = await ops.observers.stop("temps")
    assert stopped.state == "stopped" and "temps" not in ops.observers.names()


async def test_a_refused_selector_fails_at_creation(ops: Operations) -> None:
    with pytest.raises(GateError) as caught:
        await ops.observers.create_by_payload({"temperature": {"$regex": "("}})
    assert caught.value.code == "invalid_request"
    assert ops.observers.names() == []


async def test_producers_start_list_and_stop(ops: Operations) -> None:
    streams = await ops.producers.start(2)
    assert streams == ["greenhouse-1", "greenhouse-2"]
    await eventually(
        lambda: all(row.produced >= 2 for row in ops.producers.rows()), what="production"
    )
    await ops.producers.stop("greenhouse-1")
    states = {row.stream: row.state for row in ops.producers.rows()}
    assert states == {"greenhouse-1": "stopped", "greenhouse-2": "running"}
    assert ops.producers.running() == ["greenhouse-2"]
    with pytest.raises(OpsError, match=r"no producer is running on 'greenhouse-1' \(running: "):
        await ops.producers.stop("greenhouse-1")
    with pytest.raises(OpsError, match="between 1 and 100"):
        await ops.producers.start(0)


async def test_subscriptions_consume_ack_and_count(ops: Operations) -> None:
    first = await ops.streams.append_generated("ops-sub-1", 4)
    assert first.events[0]["event_type"] == "initialized:v1"
    assert await ops.subscriptions.create("ops_sub", {"by_stream": "$ops-sub-1"}, 2)
    consumer = ops.subscriptions.consumer("ops_sub")
    await eventually(lambda: consumer.received == 2, what="the events from version 2")
    assert consumer.feed.recent()[0].startswith('RECEIVED ["ops_sub" "ops-sub-1:')
    assert " v(2) => " in consumer.feed.recent()[0]

    await ops.streams.append_generated("ops-sub-1", 1)
    await eventually(lambda: consumer.received == 3, what="a live event")
    await wait_for(
        ops.subscriptions.rows,
        lambda rows: any(r.name == "ops_sub" and r.acked == 3 for r in rows),
        10,
        "the acks to be counted",
    )
    rows = {row.name: row for row in await ops.subscriptions.rows()}
    assert rows["ops_sub"].consuming_here and rows["ops_sub"].selector == "by_stream $ops-sub-1"
    # The same definition again is fine; another one under the name is not.
    assert not await ops.subscriptions.create("ops_sub", {"by_stream": "$ops-sub-1"}, 2)
    with pytest.raises(OpsError, match="exists with another definition"):
        await ops.subscriptions.create("ops_sub", {"by_stream": "$all"}, 0)
    await ops.subscriptions.delete("ops_sub")
    assert "ops_sub" not in await ops.subscriptions.names()
    with pytest.raises(OpsError, match="no subscription named 'ops_sub'"):
        await ops.subscriptions.start_consumer("ops_sub")


async def test_streams_read_append_and_greenhouse_snapshots(ops: Operations) -> None:
    result = await ops.streams.append_generated("ops-gh-1", 6)
    assert result.version == 5 and len(result.events) == 6
    page = await ops.streams.read("ops-gh-1", 2, 3)
    assert [e["event_number"] for e in page.events] == [2, 3, 4] and page.version == 5
    back = await ops.streams.read("ops-gh-1", None, 2, "backward")
    assert [e["event_number"] for e in back.events] == [5, 4]
    assert "ops-gh-1" in await ops.streams.names()
    with pytest.raises(OpsError, match="there is no stream 'ops-missing'"):
        await ops.streams.read("ops-missing")
    with pytest.raises(OpsError, match=r"temperature 99 is outside 6\.\.35"):
        await ops.streams.append_event("ops-gh-1", "temperature_measured:v1", {"temperature": 99})
    with pytest.raises(OpsError, match="not a stream id"):
        await ops.streams.append_generated("$all", 1)
    with pytest.raises(OpsError, match="its first event must be initialized:v1"):
        await ops.streams.append_event("ops-new", "fan_activated:v1", {"intensity": 3})
    with pytest.raises(OpsError, match="initialized already"):
        await ops.streams.append_event(
            "ops-gh-1", "initialized:v1", {"temperature": 20, "humidity": 50, "light": 10}
        )
    chosen = await ops.streams.append_event(
        "ops-gh-1", "temperature_measured:v1", {"temperature": 21}
    )
    assert chosen.version == 6

    view = await ops.streams.greenhouse("ops-gh-1")
    assert view.greenhouse.version == 6 and view.greenhouse.current_temperature == 21
    assert view.snapshots == []
    await ops.streams.take_snapshot("ops-gh-1")
    view = await ops.streams.greenhouse("ops-gh-1")
    assert [s.version for s in view.snapshots] == [6]
    assert view.snapshots[0].status is not None  # the greenhouse's status, from the metadata


async def test_cluster_status_and_health(ops: Operations) -> None:
    status = await ops.cluster.status()
    assert status.leader == "node1" and status.nodes_up == 3
    assert [n.node_id for n in status.nodes] == ["node1", "node2", "node3"]
    leader = status.node("node1")
    assert leader.role == "leader" and leader.preferred and leader.http_up and leader.tcp_up
    with pytest.raises(OpsError, match=r"no node 'node9' in this cluster \(nodes: node1"):
        await ops.cluster.node("node9")
    with pytest.raises(OpsError, match="unknown node action 'explode'"):
        await ops.cluster.act("node1", "explode")
    before = ops.health.updates
    await eventually(lambda: ops.health.updates > before, what="a health sample")
    latest = ops.health.latest
    assert latest is not None and latest.status is not None and latest.status.leader == "node1"


async def test_session_refuses_what_it_cannot_use() -> None:
    (port,) = free_ports(1)
    with pytest.raises(
        SessionError, match=f"cannot reach a Gate gateway at http://127.0.0.1:{port}"
    ):
        await Operations.open(SessionOptions(connect=f"http://127.0.0.1:{port}"))
    with pytest.raises(SessionError, match="drop --config and --clear"):
        await Operations.open(SessionOptions(connect="http://127.0.0.1:1", clear=True))


async def test_consumer_policy_parks_every_second_event_and_replay_redelivers(
    ops: Operations,
) -> None:
    await ops.streams.append_generated("ops-park-1", 6)
    park = ConsumerPolicy("nack_park", 2)
    assert await ops.subscriptions.create("ops_park", {"by_stream": "$ops-park-1"}, policy=park)
    consumer = ops.subscriptions.consumer("ops_park")
    await eventually(lambda: consumer.received == 6, what="the six events")
    assert consumer.outcomes == {"ack": 3, "nack_retry": 0, "nack_park": 3, "nack_skip": 0}
    lines = consumer.feed.recent()
    assert [line.rsplit(" → ", 1)[1] for line in lines] == ["acked", "parked"] * 3
    rows = await wait_for(
        ops.subscriptions.rows,
        lambda rows: any(r.name == "ops_park" and r.parked == 3 for r in rows),
        10,
        "three parked events in the listing",
    )
    row = next(r for r in rows if r.name == "ops_park")
    assert row.policy == park and row.policy.describe() == "parks every 2nd"

    # Acking everything from now on, a replay delivers the parked events once more.
    ops.subscriptions.set_policy("ops_park", ConsumerPolicy())
    await ops.subscriptions.replay_parked("ops_park")
    await eventually(lambda: consumer.received == 9, what="the three parked events again")
    assert consumer.outcomes["ack"] == 6
    await wait_for(
        ops.subscriptions.rows,
        lambda rows: any(r.name == "ops_park" and r.parked == 0 for r in rows),
        10,
        "no parked events left",
    )


async def test_consumer_policy_retry_shows_the_attempt(ops: Operations) -> None:
    await ops.streams.append_generated("ops-retry-1", 2)
    retry = parse_policy("nack_retry", "2")
    await ops.subscriptions.create("ops_retry", {"by_stream": "$ops-retry-1"}, policy=retry)
    consumer = ops.subscriptions.consumer("ops_retry")
    # Deliveries 1 and 3 are acked, 2 is nacked and comes again as attempt 2 (delivery 3).
    await eventually(lambda: consumer.received == 3, what="a redelivery")
    assert [line.rsplit("] ", 1)[1] for line in consumer.feed.recent()] == [
        "→ acked",
        "→ nacked retry",
        "attempt 2 → acked",
    ]
    with pytest.raises(OpsError, match="must be a whole number from 1 to 1000, not 'two'"):
        parse_policy("nack_skip", "two")
    with pytest.raises(OpsError, match="unknown consumer action"):
        parse_policy("shrug", "1")
    with pytest.raises(OpsError, match="this console does not consume"):
        ops.subscriptions.set_policy("nobody", retry)


async def test_an_observer_interrupted_while_connecting_ends_and_reports_nothing() -> None:
    # Issue #15's monkey: Ctrl+C while an observer waited for its gateway left it retrying
    # unowned, and its error reached the event loop: a traceback on the shell's screen.
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    url = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
    async with GateClient(url, retry_deadline=0.5) as client:
        registry = ObserverRegistry(client, "reg_gh")

        def connecting() -> list[asyncio.Task[Any]]:
            return [t for t in asyncio.all_tasks() if t.get_name() == "observer reg_gh:$all"]

        creating = asyncio.create_task(registry.create_by_stream("$all"))
        await eventually(lambda: bool(connecting()), 5, "the observer to try to connect")
        creating.cancel()
        await asyncio.gather(creating, return_exceptions=True)
        await eventually(lambda: not connecting(), 5, "the interrupted observer to end")
        del creating
        gc.collect()
    assert registry.names() == []
    assert reported == [], reported


async def test_cluster_transfer_isolate_and_heal(make_cluster: MakeCluster) -> None:
    private = await make_cluster()
    async with GateClient(private.url) as client:
        cluster = ClusterOps(client)
        # The leader hands over only to a node it heard from lately: wait until all follow it.
        status = await wait_for(
            cluster.status,
            lambda s: s.leader is not None and all(n.up and n.lag == 0 for n in s.nodes),
            10,
            "every node following the leader",
        )
        if status.leader != "node1":  # a loaded machine may have elected another first
            assert (await cluster.transfer("node1")).status.leader == "node1"
        handed = await cluster.transfer("node2")
        assert handed.status.leader == "node2" and handed.previous == "node1"
        assert not handed.already
        assert (await cluster.transfer("node2")).already
        row = (await cluster.isolate("node3", ["node2"], "in")).after
        assert (row.isolated, row.cut_in, row.cut_out) == (False, ("node2",), ())
        with pytest.raises(OpsError, match="node3 cannot be cut from itself"):
            await cluster.isolate("node3", ["node3"])
        with pytest.raises(OpsError, match="no node 'node9' in this cluster"):
            await cluster.isolate("node3", ["node9"])
        cut = await cluster.isolate("node3")
        row = cut.after
        assert not cut.was_leader
        assert row.isolated and row.cut_in == row.cut_out == ("node1", "node2")
        await wait_for(cluster.status, lambda s: s.node("node3").isolated, 5, "the view")
        # Once node3 has given up on the leader, the leader has not heard from it for as long.
        await wait_for(
            lambda: private.node_get("node3", "/status"),
            lambda s: s["leader"] is None,
            5,
            "node3 to lose the leader",
        )
        # Refused up front when the leader has marked node3 silent; on a loaded machine the
        # leader may not have yet, and then the attempt itself fails: either way, one line.
        with pytest.raises(OpsError, match=r"node3 (cannot take over|did not take over within)"):
            await cluster.transfer("node3")
        healed = await cluster.heal("node3")
        row = healed.after
        assert healed.before.isolated
        assert not row.isolated and row.cut_in == row.cut_out == ()


async def test_tempo_steps_taken_at_once_each_take_one_step(cluster: RunningCluster) -> None:
    """Three quick presses of the dashboard's ``-`` run at once: each steps from where the one
    before it left the tempo, not all from the tempo they read together."""
    async with GateClient(cluster.url) as client:
        ops = ClusterOps(client)
        try:
            steps = await asyncio.gather(*(ops.step_tempo(1) for _ in range(3)))
            assert sorted((s.previous, s.scale) for s in steps) == [(1, 2), (2, 5), (5, 10)]
            assert (await client.tempo())["scale"] == 10
        finally:
            await ops.set_tempo(1)


def test_cut_and_member_answers_are_checked() -> None:
    from console.ops.cluster import parse_address, parse_direction
    from tests.tui.recorded import HEALTHY

    assert parse_direction("") == "both" and parse_direction(" OUT ") == "out"
    with pytest.raises(OpsError, match="direction 'sideways': use both, in or out"):
        parse_direction("sideways")
    assert parse_address("127.0.0.1:8094") == ("127.0.0.1", 8094)
    assert parse_address("[::1]:80") == ("[::1]", 80)
    for bad in ("localhost", ":80", "h:", "h:٣", "h:0", "h:65536", "h:-1"):
        with pytest.raises(OpsError):
            parse_address(bad)
    assert HEALTHY.peers("node1", "") is None and HEALTHY.peers("node1", "all") is None
    assert HEALTHY.peers("node1", "node2, node3") == ["node2", "node3"]
    with pytest.raises(OpsError, match="a peer is named twice"):
        HEALTHY.peers("node1", "node2 node2")
    with pytest.raises(OpsError, match="no node 'node9'"):
        HEALTHY.peers("node1", "node9")
    assert HEALTHY.default_node("heal") is None  # no node has cut links
    # A new member's id is checked where it is typed, before its addresses are asked for.
    assert HEALTHY.new_member_id("") == "node4" and HEALTHY.new_member_id(" edge-1 ") == "edge-1"
    with pytest.raises(OpsError, match="node1 is a member already"):
        HEALTHY.new_member_id("node1")
    for bad in ("🙂", "node 4", "x" * 65, "a/b"):
        with pytest.raises(OpsError, match="cannot be a node id: letters, digits, _ and -"):
            HEALTHY.new_member_id(bad)
    with pytest.raises(OpsError, match=r"name the node to take over \(node2, node3\)"):
        HEALTHY.transfer_target()


async def test_cluster_add_and_remove_a_node(make_cluster: MakeCluster) -> None:
    private = await make_cluster()
    async with GateClient(private.url) as client:
        cluster = ClusterOps(client)
        http, tcp = free_ports(2)
        answer = await cluster.add_node("node4", http=("127.0.0.1", http), tcp=("127.0.0.1", tcp))
        assert (answer["node_id"], answer["action"], answer["voter"]) == ("node4", "add", False)
        status = await wait_for(
            cluster.status,
            lambda s: any(n.node_id == "node4" and n.voter and n.up for n in s.nodes),
            30,
            "node4 promoted",
        )
        assert status.majority == 3  # of four voters
        node1_http = private.config.node("node1").http.port
        with pytest.raises(OpsError, match="is taken by node1"):
            await cluster.add_node("node5", http=("127.0.0.1", node1_http), tcp=("127.0.0.1", 1))
        with pytest.raises(OpsError, match="already a member"):
            await cluster.add_node("node4", http=("127.0.0.1", 1), tcp=("127.0.0.1", 2))
        with pytest.raises(OpsError, match="no node 'node9'"):
            await cluster.remove_node("node9")
        await cluster.remove_node("node4")
        await wait_for(
            cluster.status,
            lambda s: [n.node_id for n in s.nodes] == ["node1", "node2", "node3"],
            30,
            "node4 gone",
        )

"""``GateClient``'s typed answers (engine/client/results.py) name the keys a real gateway sends:
a ``TypedDict`` that drifted from the wire would type-check callers against fiction."""

from __future__ import annotations

from typing import Any, get_type_hints, is_typeddict

from engine.client import results
from tests.cluster_harness import RunningCluster, wait_for

STORE = "reg_gh"


def _keys(typed: type) -> tuple[frozenset[str], frozenset[str]]:
    return typed.__required_keys__, typed.__optional_keys__


def assert_shape(answer: Any, typed: type) -> None:
    """``answer`` has every required key of ``typed``, no key it does not name, and the same
    shape one level down for the keys typed as TypedDicts (or lists of them)."""
    required, optional = _keys(typed)
    assert isinstance(answer, dict), answer
    assert required <= set(answer) <= required | optional, (typed.__name__, sorted(answer))
    for key, hint in get_type_hints(typed).items():
        if key not in answer:
            continue
        inner = getattr(hint, "__args__", (None,))[0] if getattr(hint, "__origin__", None) else hint
        if is_typeddict(hint):
            assert_shape(answer[key], hint)
        elif getattr(hint, "__origin__", None) is list and is_typeddict(inner):
            for item in answer[key]:
                assert_shape(item, inner)


async def test_every_answer_has_the_keys_its_type_names(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        view = await wait_for(client.cluster, lambda v: v["leader"] is not None, 10)
        assert_shape(view, results.ClusterView)
        appended = await client.append(
            STORE, "typed-1", [{"event_type": "t", "data": {"n": 1}, "metadata": {}}]
        )
        assert_shape(appended, results.Appended)
        assert_shape(await client.read_stream(STORE, "typed-1"), results.StreamSlice)
        for event in await client.read_all(STORE, 0, 5):
            assert_shape(event, results.EventRecord)
        for stream in await client.list_streams(STORE):
            assert_shape(stream, results.StreamInfo)
        assert_shape(await client.get_store(STORE), results.StoreInfo)
        for store in await client.list_stores():
            assert_shape(store, results.StoreSummary)
        await client.put_snapshot(STORE, "typed-1", "typed-1", 0, {"n": 1}, {"status": "x"})
        assert_shape(await client.get_snapshot(STORE, "typed-1", "typed-1", 0), results.Snapshot)
        for snapshot in await client.list_snapshots(STORE, "typed-1", "typed-1"):
            assert_shape(snapshot, results.Snapshot)
        put = await client.put_subscription(STORE, "typed_sub", {"by_stream": "$typed-1"})
        assert_shape(put, results.SubscriptionPut)
        listed = [s for s in await client.list_subscriptions(STORE) if s["name"] == "typed_sub"]
        assert len(listed) == 1
        assert_shape(listed[0], results.SubscriptionInfo)
        async with client.consume(STORE, "typed_sub") as consumer:
            batch = await anext(aiter(consumer))
            assert_shape(batch[0], results.Delivery)
            await consumer.ack([event["event_id"] for event in batch])
        await client.delete_subscription(STORE, "typed_sub")
        page = await client.node_log(view["nodes"][0]["node_id"], limit=3)
        assert_shape(page, results.NodeLogPage)
        followers = [n["node_id"] for n in view["nodes"] if n["node_id"] != view["leader"]]
        # A follower deaf to one other follower for a moment: the cluster keeps its leader.
        cut = await client.isolate(followers[0], [followers[1]], "in")
        assert_shape(cut, results.LinksAnswer)
        assert cut["cuts"]["in"] == [followers[1]] and not cut["isolated"]
        assert_shape(await client.heal(followers[0]), results.LinksAnswer)
        # A slow link one way, and the tempo: set, seen in the view, cleared.
        fault = await client.set_link_fault(followers[0], followers[1], delay_ms=5)
        assert_shape(fault, results.LinkFaultView)
        listed_faults = await client.link_faults()
        assert_shape(listed_faults, results.LinkFaultsAnswer)
        assert listed_faults["links"] == [fault]
        assert_shape(await client.set_tempo(1), results.TempoAnswer)
        assert_shape(await client.tempo(), results.TempoView)
        faulty = await wait_for(
            client.cluster, lambda v: any(n.get("link_faults") for n in v["nodes"]), 10
        )
        assert_shape(faulty, results.ClusterView)
        assert_shape(await client.clear_link_faults(), results.LinkFaultsCleared)
        async for message in client.observe(STORE, {"by_stream": "$typed-1"}, from_position=0):
            assert message["type"] in ("events", "live")
            typed = results.EventsMessage if message["type"] == "events" else results.LiveMessage
            assert_shape(message, typed)
            if message["type"] == "live":
                break
        # The feed opens with the view; the heal above may come through first as links_changed.
        events = {
            "cluster": results.ClusterViewEvent,
            "links_changed": results.LinksChanged,
            "leader_changed": results.LeaderChanged,
            "link_faults_changed": results.LinkFaultsChanged,
        }
        async for event in client.cluster_events():
            assert_shape(event, events[event["type"]])
            if event["type"] == "cluster":
                break

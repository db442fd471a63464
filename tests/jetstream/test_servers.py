"""``backend: jetstream`` with ``startsNodes``: real nats-servers launched, supervised and watched.

The gateway writes each server's config, launches the servers through its supervisor and builds
its cluster view from their monitoring endpoints; these tests kill -9 the leaders' servers and
read what the view and the event feed say, restart servers through the node action route and
clear their data with ``--clear``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import StorageType, StreamConfig

from engine.client import GateClient
from engine.client.results import ClusterView
from engine.jetstream.servers import SYNC_ALWAYS_SINCE, server_version
from engine.protocol.errors import GateError
from tests.cluster_harness import wait_for
from tests.jetstream_cluster import (
    JetStreamGateway,
    all_up,
    jetstream_config,
    jetstream_gateway,
    launch,
)

pytestmark = pytest.mark.slow

STREAM = "reg_gh"
DEBIAN_NATS = "/usr/sbin/nats-server"


async def _quiet(exc: Exception) -> None:
    """nats-py prints reconnect errors by default; the servers dying is what these tests do."""


async def make_stream(gateway: JetStreamGateway) -> str:
    """An R3 file stream, made through the servers (the gateway's data path is not under test
    here); returns its leader's server."""
    nc = await nats.connect(gateway.client_urls(), connect_timeout=2, error_cb=_quiet)
    try:
        js = nc.jetstream(timeout=5)
        config = StreamConfig(
            name=STREAM, subjects=[f"{STREAM}.>"], storage=StorageType.FILE, num_replicas=3
        )
        info = await wait_for(lambda: js.add_stream(config), lambda i: True, 20, "the stream")
        for i in range(10):
            await js.publish(f"{STREAM}.s1", str(i).encode())
        assert info.cluster is not None and info.cluster.leader
        return info.cluster.leader
    finally:
        await nc.close()


def stream(view: ClusterView) -> dict[str, Any] | None:
    return next((s for s in view.get("streams", []) if s["stream"] == STREAM), None)


def node(view: ClusterView, node_id: str) -> dict[str, Any]:
    return dict(next(n for n in view["nodes"] if n["node_id"] == node_id))


@contextlib.asynccontextmanager
async def event_feed(client: GateClient) -> AsyncIterator[list[dict[str, Any]]]:
    """The cluster event feed, collected in a list while the block runs."""
    feed: list[dict[str, Any]] = []

    async def follow() -> None:
        async for message in client.cluster_events():
            feed.append(dict(message))

    task = asyncio.create_task(follow())
    try:
        await wait_for(lambda: asyncio.sleep(0, feed), bool, 10, "the cluster event feed")
        yield feed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_servers_launched_from_the_yaml_with_their_configs(tmp_path: Path) -> None:
    raw = jetstream_config(tmp_path, extra={"jetstream": {"syncAlways": True}})
    async with jetstream_gateway(tmp_path, raw, clear=True) as gateway:
        view = await gateway.view(all_up, "all up")
        assert view.get("backend") == "jetstream"
        for node_id, node_raw in raw["nodes"].items():
            conf = (tmp_path / "data" / node_id / "nats-server.conf").read_text()
            assert f'server_name: "{node_id}"' in conf
            assert f"port: {node_raw['tcp']['port']}" in conf
            assert "sync_interval: always" in conf
            others = [n for n in raw["nodes"] if n != node_id]
            for other in others:
                assert f"127.0.0.1:{raw['nodes'][other]['cluster']['port']}" in conf
            row = node(view, node_id)
            assert row["managed"] and row["state"] == "running" and row["pid"]
            assert row["version"] and row["routes"] == others
            # Its store is where the config says, and the server really fsyncs every write.
            async with GateClient(f"http://127.0.0.1:{node_raw['http']['port']}") as monitor:
                varz = await monitor.request_once("GET", "/varz")
            store = varz["jetstream"]["config"]["store_dir"]
            assert Path(store).parent == tmp_path / "data" / node_id
            assert varz["jetstream"]["config"]["sync_always"] is True


def leader_of(view: ClusterView, kind: str) -> str | None:
    """The meta leader's server, or the test stream's leader's."""
    return view["leader"] if kind == "meta" else (stream(view) or {}).get("leader")


async def fail_over(
    gateway: JetStreamGateway, client: GateClient, feed: list[dict[str, Any]], kind: str
) -> None:
    """kill -9 the ``kind`` leader's server; the view and the feed name another; then the node
    action route starts the server again and it rejoins as a follower."""
    view = await gateway.view(
        lambda v: all_up(v) and leader_of(v, "stream") is not None, "all up, a stream leader"
    )
    victim = leader_of(view, kind)
    assert victim is not None
    seen = len(feed)
    os.kill(node(view, victim)["pid"], signal.SIGKILL)
    after = await gateway.view(
        lambda v: node(v, victim)["role"] == "down" and leader_of(v, kind) not in (None, victim),
        f"a new {kind} leader besides {victim}",
    )
    assert node(after, victim)["state"] == "exited"
    assert node(after, victim)["exit_code"] == -signal.SIGKILL
    new = leader_of(after, kind)
    wanted = "leader_changed" if kind == "meta" else "stream_leader_changed"

    def saw(messages: list[dict[str, Any]]) -> bool:
        news = messages[seen:]
        down = any(m["type"] == "node_down" and m["node_id"] == victim for m in news)
        return down and any(m["type"] == wanted and m["leader"] == new for m in news)

    await wait_for(lambda: asyncio.sleep(0, feed), saw, 10, f"the {kind} failover on the feed")
    changed = next(m for m in feed[seen:] if m["type"] == wanted and m["leader"] == new)
    if kind == "meta":
        # The first change is away from the victim (maybe to no leader for a round first).
        first = next(m for m in feed[seen:] if m["type"] == wanted)
        assert first["previous"] == victim
        # The meta group's term (this server version has /raftz) moved on.
        assert changed["term"] is not None and changed["term"] > view["term"]
    await client.node_action(victim, "start")
    await gateway.view(
        lambda v: all_up(v) and node(v, victim)["role"] == "follower",
        f"{victim} back as a follower",
    )


async def test_killed_leaders_are_replaced_in_the_view_and_the_timeline(tmp_path: Path) -> None:
    # restart: never, so a killed server stays down until the node action route starts it.
    raw = jetstream_config(tmp_path, extra={"gateway": {"restart": "never"}})
    async with jetstream_gateway(tmp_path, raw, clear=True) as gateway:
        await make_stream(gateway)
        async with gateway.client() as client, event_feed(client) as feed:
            # The meta leader's server, then the stream leader's (one at a time: two of three
            # down would leave no quorum to elect anyone).
            for kind in ("meta", "stream"):
                await fail_over(gateway, client, feed, kind)
            # And a restart of a running server is a stop then a start, back in the view.
            view = await gateway.view(all_up, "all up")
            follower = next(n["node_id"] for n in view["nodes"] if n["role"] == "follower")
            pid = node(view, follower)["pid"]
            await client.node_action(follower, "restart")
            view = await gateway.view(
                lambda v: all_up(v) and node(v, follower)["pid"] not in (None, pid),
                f"{follower} restarted with a new process",
            )
            new_pid = node(view, follower)["pid"]
            # The feed is another connection: its message may land after the view's answer. A
            # restart can fall between two probe rounds (no node_down, no node_up), so what the
            # feed must carry is a view with the new process up.
            await wait_for(
                lambda: asyncio.sleep(0, feed),
                lambda f: any(
                    m["type"] == "cluster"
                    and any(
                        n["node_id"] == follower and n["pid"] == new_pid and n["role"] != "down"
                        for n in m["nodes"]
                    )
                    for m in f
                ),
                10,
                f"{follower}'s new process up on the feed",
            )


async def test_pause_resume_and_a_second_gateway_attached(tmp_path: Path) -> None:
    raw = jetstream_config(tmp_path)
    async with jetstream_gateway(tmp_path, raw, clear=True) as gateway:
        view = await gateway.view(all_up, "all up")
        follower = next(n["node_id"] for n in view["nodes"] if n["role"] == "follower")
        async with gateway.client() as client:
            await client.node_action(follower, "pause")  # SIGSTOP: it answers nothing
            await gateway.view(
                lambda v: (
                    node(v, follower)["role"] == "down"
                    and node(v, follower)["state"] == "paused"
                    and not node(v, follower)["tcp"]["up"]
                ),
                f"{follower} paused",
            )
            await client.node_action(follower, "resume")
            await gateway.view(
                lambda v: all_up(v) and node(v, follower)["state"] == "running",
                f"{follower} resumed",
            )
        # startsNodes: false attaches to the same servers: the same view, nothing managed.
        attached = jetstream_config(tmp_path / "attached")
        attached["nodes"] = {
            node_id: {k: v for k, v in node_raw.items() if k != "cluster"}
            for node_id, node_raw in raw["nodes"].items()
        }
        attached["gateway"]["startsNodes"] = False
        async with jetstream_gateway(tmp_path / "attached", attached) as second:
            view = await second.view(all_up, "the attached gateway's view")
            assert view["leader"] == (await gateway.view(all_up, "all up"))["leader"]
            assert all(not n["managed"] and n["state"] is None for n in view["nodes"])
            assert all(n["pid"] is None and n["version"] for n in view["nodes"])  # type: ignore[typeddict-item]
            async with second.client() as client:
                with pytest.raises(GateError) as refused:
                    await client.node_action(follower, "stop")
                assert refused.value.code == "node_not_managed"


async def test_a_server_killed_from_outside_is_restarted(tmp_path: Path) -> None:
    raw = jetstream_config(tmp_path)  # gateway.restart: on-failure, the default
    async with jetstream_gateway(tmp_path, raw, clear=True) as gateway:
        view = await gateway.view(all_up, "all up")
        victim = view["leader"]
        assert victim is not None
        pid = node(view, victim)["pid"]
        os.kill(pid, signal.SIGKILL)
        after = await gateway.view(
            lambda v: all_up(v) and node(v, victim)["restarts"] == 1,
            f"{victim} restarted by the supervisor",
        )
        row = node(after, victim)
        assert row["pid"] != pid and row["exit_code"] == -signal.SIGKILL
        assert row["state"] == "running"


async def test_clear_deletes_the_servers_data(tmp_path: Path) -> None:
    raw = jetstream_config(tmp_path)
    async with jetstream_gateway(tmp_path, raw, clear=True) as gateway:
        await make_stream(gateway)
        await gateway.view(lambda v: stream(v) is not None, "the stream in the view")
    # Without --clear the servers come back with their streams; with it, with none.
    async with jetstream_gateway(tmp_path, raw) as gateway:
        view = await gateway.view(
            lambda v: (s := stream(v)) is not None and s["messages"] == 10, "the stream kept"
        )
        assert stream(view) is not None
    async with jetstream_gateway(tmp_path, raw, clear=True) as gateway:
        view = await gateway.view(all_up, "all up")
        assert view.get("streams") == []
        for node_id in raw["nodes"]:
            assert not (tmp_path / "data" / node_id / "jetstream" / "$G").exists()


@pytest.mark.skipif(
    not Path(DEBIAN_NATS).exists(),
    reason="checks the refusal of an old server: needs Debian's nats-server 2.9 at /usr/sbin "
    "(bash .ci/run installs it)",
)
async def test_sync_always_on_a_server_without_it_is_one_line(tmp_path: Path) -> None:
    # .ci/run installs Debian's nats-server; without it this case cannot be made.
    assert server_version(DEBIAN_NATS) < SYNC_ALWAYS_SINCE
    raw = jetstream_config(
        tmp_path, extra={"jetstream": {"server": DEBIAN_NATS, "syncAlways": True}}
    )
    gateway = launch(tmp_path, raw)
    code = await asyncio.to_thread(gateway.process.wait, 30)
    lines = [line for line in gateway.log_file.read_text().splitlines() if line.strip()]
    assert code == 2, lines
    assert lines[-1].startswith("gate-gateway: jetstream.syncAlways: ")
    assert "sync_interval: always" in lines[-1]
    # Without syncAlways that server runs, and the view has no term (2.9 has no /raftz).
    raw["jetstream"]["syncAlways"] = False
    async with jetstream_gateway(tmp_path / "old", raw, clear=True) as old:
        view = await old.view(all_up, "all up")
        assert view["term"] == 0
        assert all(n["version"].startswith("2.9") for n in view["nodes"])  # type: ignore[typeddict-item]


def test_gateway_exit_does_not_leave_servers(tmp_path: Path) -> None:
    """A gateway killed with SIGKILL takes its servers with it (they would hold the ports)."""
    raw = jetstream_config(tmp_path)
    gateway = launch(tmp_path, raw, clear=True)
    try:
        view = asyncio.run(gateway.view(all_up, "all up"))
        pids = [n["pid"] for n in view["nodes"]]
        gateway.process.kill()
        gateway.process.wait()

        def gone() -> bool:
            return all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in pids)

        asyncio.run(wait_for(lambda: asyncio.sleep(0, gone()), bool, 10, "the servers gone"))
    finally:
        gateway.stop()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True

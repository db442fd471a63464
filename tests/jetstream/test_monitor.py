"""``JetStreamMonitor`` against scripted monitoring endpoints on real sockets: the view it builds
from what servers say, and what it makes of answers no server should give (no crash, no leader
that nobody vouches for).  tests/jetstream/test_servers.py runs it against real nats-servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

from engine.config_model import ClusterConfig, Endpoint, NodeConfig
from engine.jetstream.monitor import JetStreamMonitor, _duration_s


class FakeServer:
    """A nats-server's monitoring port (``answers``: path -> (status, body)) and client port
    (sends ``info`` on each connection)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.info = b'INFO {"server_name": "%s"}\r\n' % name.encode()
        self.runner: web.AppRunner | None = None
        self.tcp: asyncio.Server | None = None
        self.http_port = self.tcp_port = 0

    def says(self, path: str, body: Any, status: int = 200) -> None:
        self.answers[path] = (status, body if isinstance(body, bytes) else orjson.dumps(body))

    async def start(self) -> None:
        async def answer(request: web.Request) -> web.Response:
            status, body = self.answers.get(request.path_qs, (404, b""))
            return web.Response(status=status, body=body, content_type="application/json")

        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.http_port = self.runner.addresses[0][1]

        async def greet(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(self.info)
            await writer.drain()
            writer.close()

        self.tcp = await asyncio.start_server(greet, "127.0.0.1", 0)
        self.tcp_port = self.tcp.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.tcp is not None:
            self.tcp.close()
        if self.runner is not None:
            await self.runner.cleanup()

    def node(self) -> NodeConfig:
        return NodeConfig(
            self.name,
            False,
            Endpoint("127.0.0.1", self.http_port),
            Endpoint("127.0.0.1", self.tcp_port),
        )


def healthy(server: FakeServer, leader: str, streams: list[dict[str, Any]] | None = None) -> None:
    server.says("/healthz", {"status": "ok"})
    server.says("/varz", {"version": "2.15.1", "uptime": "1h2m3s"})
    server.says(
        "/jsz?streams=true",
        {
            "meta_cluster": {"leader": leader},
            "account_details": [{"stream_detail": streams or []}],
        },
    )
    server.says("/routez", {"routes": [{"remote_name": "b"}, {"remote_name": "c"}]})
    server.says("/raftz", {"$SYS": {"_meta_": {"term": 7}}})


@contextlib.asynccontextmanager
async def servers(*names: str) -> AsyncIterator[tuple[list[FakeServer], JetStreamMonitor]]:
    fakes = [FakeServer(name) for name in names]
    for fake in fakes:
        await fake.start()
    config = ClusterConfig(source="test", nodes=tuple(f.node() for f in fakes), backend="jetstream")
    monitor = JetStreamMonitor(config, probe_timeout=2.0)
    try:
        yield fakes, monitor
    finally:
        await monitor.stop()
        for fake in fakes:
            await fake.stop()


def stream(name: str, leader: str, replicas: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "cluster": {"leader": leader, "replicas": replicas},
        "state": {"messages": 12, "last_seq": 12},
    }


async def test_the_view_from_what_the_servers_say() -> None:
    async with servers("a", "b", "c") as (fakes, monitor):
        lagging = [{"name": "b", "current": True}, {"name": "c", "current": False, "lag": 4}]
        for fake in fakes:
            healthy(fake, "b", [stream("reg_gh", "a", lagging)] if fake.name == "a" else [])
        feed = monitor.subscribe()
        view = await monitor.refresh()
        assert view["leader"] == "b" and view["term"] == 7 and view["backend"] == "jetstream"
        rows = {n["node_id"]: n for n in view["nodes"]}
        assert [rows[n]["role"] for n in "abc"] == ["follower", "leader", "follower"]
        assert rows["c"]["lag"] == 4 and rows["b"]["lag"] == 0
        assert rows["a"]["http"]["up"] and rows["a"]["tcp"]["up"]
        assert rows["a"]["uptime_s"] == 3723 and rows["a"]["version"] == "2.15.1"
        assert view["streams"] == [
            {
                "stream": "reg_gh",
                "leader": "a",
                "messages": 12,
                "last_seq": 12,
                "replicas": [
                    {"node_id": "b", "current": True, "lag": 0, "offline": False},
                    {"node_id": "c", "current": False, "lag": 4, "offline": False},
                ],
            }
        ]
        types = [feed.get_nowait()["type"] for _ in range(feed.qsize())]
        assert types == ["node_up"] * 3 + ["stream_leader_changed", "leader_changed", "cluster"]


async def test_answers_no_server_gives_make_no_leader_and_no_crash() -> None:
    async with servers("a", "b", "c") as (fakes, monitor):
        a, b, c = fakes
        healthy(a, "b")
        a.says("/raftz", {"$SYS": {"_meta_": {"term": "seven"}}})
        b.says("/healthz", b"not json", status=503)
        b.says("/jsz?streams=true", {"meta_cluster": {"leader": "a"}, "account_details": [1, {}]})
        b.info = b"HTTP/1.1 400 Bad Request\r\n"  # not a NATS client port
        c.says("/healthz", {"status": "ok"})
        c.says("/jsz?streams=true", [1, 2, 3])
        c.says("/routez", {"routes": "many"})
        view = await monitor.refresh()
        rows = {n["node_id"]: n for n in view["nodes"]}
        # a names b, b names a, neither itself, c says nothing usable: no leader is adopted.
        assert view["leader"] is None and view["term"] == 0
        assert rows["b"]["role"] == "follower" and not rows["b"]["http"]["up"]
        assert not rows["b"]["tcp"]["up"] and rows["a"]["term"] is None
        assert rows["c"]["routes"] == [] and view["streams"] == []
        await c.stop()
        view = await monitor.refresh()
        assert {n["node_id"]: n["role"] for n in view["nodes"]}["c"] == "down"


def test_go_durations() -> None:
    assert _duration_s("2d3h4m5s") == 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5
    assert _duration_s("45s") == 45
    assert _duration_s("1h2x") is None


async def test_a_leader_named_by_all_that_answer_is_adopted_until_it_stops_answering() -> None:
    async with servers("a", "b", "c") as (fakes, monitor):
        c = fakes[2]
        for fake in fakes:
            healthy(fake, "c")
        c.says("/jsz?streams=true", b"{")  # its own word lost this round
        assert (await monitor.refresh())["leader"] == "c"
        await c.stop()  # the others name it a while after it died
        assert (await monitor.refresh())["leader"] is None

"""The HTTP listeners at their edge, over raw sockets: time limits, 405s, parser errors, repeats.

Every listener, the gateway's and each node's, closes a connection that sends nothing useful
for ``gateway.idleTimeout`` (short here), while a WebSocket stays open past it; every error,
the HTTP parser's included, is the JSON error body.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import aiohttp
import orjson
import pytest

from engine.cluster_secret import cluster_key, resolve_cluster_secret
from engine.protocol.framing import open_session, read_body
from engine.transport.http_common import READ_ROUTES
from tests.api_routes import gateway_routes
from tests.cluster_harness import RunningCluster, start_cluster, stop_cluster
from tests.raw_wire import frame

IDLE = 1.5  # gateway.idleTimeout of this module's cluster
SLACK = 1.5  # a loaded 2-core machine may be late by this much
EVENTS = "/api/stores/reg_gh/streams/edge/events"


@pytest.fixture(scope="module")
def edge_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    running = start_cluster(
        tmp_path_factory.mktemp("edge"), extra={"gateway": {"idleTimeout": IDLE}}
    )
    try:
        yield running
    finally:
        stop_cluster(running)


def listeners(cluster: RunningCluster) -> list[int]:
    """The HTTP ports of the gateway and of one node."""
    return [cluster.config.gateway.http.port, cluster.config.node("node2").http.port]


class Exchange:
    """What one raw connection got: the bytes the server sent, and when it closed."""

    def __init__(self, received: bytes, closed_after: float | None) -> None:
        self.received = received
        self.closed_after = closed_after  # seconds from the first byte sent; None: still open

    @property
    def status(self) -> int | None:
        match = re.match(rb"HTTP/1\.[01] (\d{3}) ", self.received)
        return int(match.group(1)) if match else None

    def responses(self) -> list[tuple[int, dict[str, str], bytes]]:
        """The whole answers received, each with its headers (names in lower case) and body."""
        answers = []
        rest = self.received
        while rest:
            head, _, rest = rest.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body, rest = rest[:length], rest[length:]
            answers.append((int(lines[0].split()[1]), headers, body))
        return answers


async def exchange(
    port: int,
    head: bytes,
    *,
    trickle: bytes = b"",
    every: float = 0.25,
    limit: float = IDLE + 6.0,
) -> Exchange:
    """Send ``head``, then ``trickle`` one byte every ``every`` s; read until the server closes.

    Gives up (``closed_after`` None) ``limit`` seconds after the start.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    received = bytearray()

    async def read_until_closed() -> None:
        try:
            while chunk := await reader.read(65536):
                received.extend(chunk)
        except ConnectionError:  # a reset: our trickled bytes reached a closed socket
            pass

    reading = asyncio.create_task(read_until_closed())
    writer.write(head)
    closed_after: float | None = None
    try:
        for byte in trickle:
            await asyncio.wait({reading}, timeout=every)
            if reading.done():
                break
            writer.write(bytes([byte]))
        await asyncio.wait_for(asyncio.shield(reading), limit - (time.monotonic() - started))
        closed_after = time.monotonic() - started
    except TimeoutError:
        reading.cancel()
    finally:
        writer.close()
    return Exchange(bytes(received), closed_after)


def assert_closed_by_idle_timeout(result: Exchange, what: str) -> None:
    assert result.closed_after is not None, f"{what}: still open after {IDLE + 6} s"
    assert result.closed_after < IDLE + SLACK, f"{what}: closed after {result.closed_after:.2f} s"


def assert_json_error(status: int, headers: dict[str, str], body: bytes) -> dict[str, str]:
    assert headers["content-type"].startswith("application/json"), (status, headers, body)
    error = orjson.loads(body)["error"]
    assert error["code"] and error["message"], body
    return error


# -- time limits --------------------------------------------------------------------------------


async def test_an_idle_connection_is_closed(edge_cluster: RunningCluster) -> None:
    for port in listeners(edge_cluster):
        result = await exchange(port, b"")
        assert_closed_by_idle_timeout(result, f"idle connection to {port}")
        assert result.received == b""


async def test_hundreds_of_idle_and_slow_connections_are_all_closed(
    edge_cluster: RunningCluster,
) -> None:
    port = edge_cluster.config.gateway.http.port
    heads = [b"", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "] * 150
    results = await asyncio.gather(*(exchange(port, head) for head in heads))
    for result in results:
        assert_closed_by_idle_timeout(result, "one of 300 idle or slow connections")
        assert result.received == b""


async def test_an_idle_keep_alive_connection_is_closed_after_its_answer(
    edge_cluster: RunningCluster,
) -> None:
    for port in listeners(edge_cluster):
        result = await exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert_closed_by_idle_timeout(result, f"keep-alive connection to {port}")
        assert [status for status, _, _ in result.responses()] == [200]


async def test_headers_trickled_in_are_cut_off(edge_cluster: RunningCluster) -> None:
    for port in listeners(edge_cluster):
        result = await exchange(
            port, b"GET /health HTTP/1.1\r\nHost: x\r\n", trickle=b"X-Slow: " + b"a" * 60
        )
        assert_closed_by_idle_timeout(result, f"slowloris headers to {port}")
        assert result.received == b""


async def test_a_body_shorter_than_its_content_length_gets_a_408(
    edge_cluster: RunningCluster,
) -> None:
    head = (
        f"POST {EVENTS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    ).encode()
    port = edge_cluster.config.gateway.http.port
    result = await exchange(port, head + b'{"events": [')
    assert_closed_by_idle_timeout(result, "short body")
    [(status, headers, body)] = result.responses()
    assert status == 408
    assert assert_json_error(status, headers, body)["code"] == "request_timeout"


async def test_a_chunked_body_trickled_in_is_cut_off(edge_cluster: RunningCluster) -> None:
    head = (
        f"POST {EVENTS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    port = edge_cluster.config.gateway.http.port
    result = await exchange(port, head, trickle=b"1\r\n{\r\n" * 10, every=0.2)
    assert_closed_by_idle_timeout(result, "trickled chunked body")
    # The 408 goes out, but a trickled byte reaching the closed socket may reset it first.
    assert result.status in (None, 408)


async def test_an_unread_body_is_drained_for_the_idle_timeout_at_most(
    edge_cluster: RunningCluster,
) -> None:
    # The handler answers without reading the body; the rest of it never comes.
    head = b"GET /api/stores HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
    for port in listeners(edge_cluster):
        result = await exchange(port, head)
        assert_closed_by_idle_timeout(result, f"unread body to {port}")
        assert [status for status, _, _ in result.responses()] == [200]


async def test_websockets_stay_open_past_the_idle_timeout(edge_cluster: RunningCluster) -> None:
    url = edge_cluster.url
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{url}/api/stores/reg_gh/observe?type=by_stream&selector=$ws-edge") as ws,
    ):
        live = await ws.receive_json(timeout=10)
        assert live["type"] == "live"
        await asyncio.sleep(IDLE * 2)
        async with edge_cluster.new_client() as client:
            await client.append(
                "reg_gh", "ws-edge", [{"event_type": "t:v1", "data": {"after": "idle"}}]
            )
        message = await ws.receive_json(timeout=10)
        assert message["type"] == "events"
        assert message["events"][0]["data"] == {"after": "idle"}


# -- 405 with Allow -------------------------------------------------------------------------------


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def _methods_matching(routes: dict[str, set[str]], url: str) -> set[str]:
    methods: set[str] = set()
    for pattern, allowed in routes.items():
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(pattern)), url):
            methods |= allowed
    return methods


async def test_every_405_names_the_allowed_methods(edge_cluster: RunningCluster) -> None:
    node_paths = ["/health", "/ready", "/status", "/metrics"] + [p for p, _ in READ_ROUTES]
    gateway = await gateway_routes(edge_cluster)
    # A concrete URL may match several patterns (``nodes/x/log`` is also ``nodes/x/{action}``):
    # its Allow names the methods of every route that would take it.
    targets = [
        (edge_cluster.url, path, _methods_matching(gateway, _concrete(path))) for path in gateway
    ]
    targets += [(edge_cluster.node_url("node2"), path, {"GET", "HEAD"}) for path in node_paths]
    assert len(targets) > 30
    async with aiohttp.ClientSession() as http:
        for base, path, methods in targets:
            async with http.request("PATCH", base + _concrete(path)) as resp:
                body = await resp.read()
                assert resp.status == 405, (base, path, resp.status, body)
                assert set(resp.headers["Allow"].split(",")) == methods, (base, path)
                error = assert_json_error(resp.status, {"content-type": resp.content_type}, body)
                assert error["code"] == "method_not_allowed"


# -- the HTTP parser's errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/9.9 extra\r\n\r\n",
        b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
    ],
    ids=["long-url", "long-header", "garbage-line", "bad-version", "bad-header"],
)
async def test_parser_errors_are_json(edge_cluster: RunningCluster, request_bytes: bytes) -> None:
    for port in listeners(edge_cluster):
        result = await exchange(port, request_bytes)
        [(status, headers, body)] = result.responses()
        assert 400 <= status < 500, (port, status, body)
        assert assert_json_error(status, headers, body)["code"] == "invalid_request"
        assert result.closed_after is not None and result.closed_after < SLACK


# -- repeated query parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/stores/reg_gh/all?count=&count=abc", "count"),
        ("/api/stores/reg_gh/all?count=5&count=5", "count"),
        ("/api/stores/reg_gh/streams/s/events?direction=forward&direction=backward", "direction"),
        ("/api/stores/reg_gh/streams/s/events?min_index=1&min_index=2", "min_index"),
        ("/api/stores/reg_gh/snapshots?source_uuid=a&source_uuid=b", "source_uuid"),
    ],
)
async def test_a_repeated_query_parameter_is_a_400(
    edge_cluster: RunningCluster, path: str, name: str
) -> None:
    async with aiohttp.ClientSession() as http:
        for base in (edge_cluster.url, edge_cluster.node_url("node2")):
            async with http.get(base + path) as resp:
                body = await resp.json()
            assert resp.status == 400, (base, body)
            assert name in body["error"]["message"]


async def test_a_repeated_observe_parameter_is_refused_before_the_upgrade(
    edge_cluster: RunningCluster,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            edge_cluster.url + "/api/stores/reg_gh/observe?from_position=1&from_position=2"
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 400
    assert "from_position" in body["error"]["message"]


# -- the node TCP listener -----------------------------------------------------------------------


def node_tcp_port(cluster: RunningCluster) -> int:
    return cluster.config.node("node2").tcp.port


async def test_node_tcp_closes_a_connection_without_a_handshake(
    edge_cluster: RunningCluster,
) -> None:
    port = node_tcp_port(edge_cluster)
    idle = await exchange(port, b"")
    assert_closed_by_idle_timeout(idle, "an idle node TCP connection")
    # Unsigned pings are answered, but do not buy a connection more time.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    pongs = 0
    try:
        async with asyncio.timeout(IDLE + SLACK):
            while True:
                writer.write(frame({"op": "ping", "id": pongs}))
                answer = orjson.loads(await read_body(reader))
                if answer.get("op") != "pong":
                    break
                pongs += 1
                await asyncio.sleep(0.3)
        assert "no handshake" in answer["error"]["message"]
        assert await reader.read() == b""
    finally:
        writer.close()
    assert pongs >= 3
    assert IDLE - 0.1 < time.monotonic() - started < IDLE + SLACK
    # A frame begun and never finished, before the handshake.
    slow = await exchange(port, b"\x00\x00\x01\x00", trickle=b" " * 40, every=0.25)
    assert_closed_by_idle_timeout(slow, "a node TCP frame trickled in")
    assert slow.closed_after is not None and slow.closed_after > IDLE - 0.1


async def test_node_tcp_cuts_a_stalled_frame_after_the_handshake(
    edge_cluster: RunningCluster,
) -> None:
    config = resolve_cluster_secret(edge_cluster.config, create=False)
    reader, writer = await asyncio.open_connection("127.0.0.1", node_tcp_port(edge_cluster))
    try:
        session = await open_session(reader, writer, cluster_key(config))
        writer.write(session.encode({"op": "status", "id": 1}))
        answer = session.decode(await read_body(reader))
        assert answer["ok"] is True
        # Idle between frames is fine for a peer that proved it holds the secret...
        await asyncio.sleep(IDLE + 0.5)
        writer.write(session.encode({"op": "status", "id": 2}))
        assert session.decode(await read_body(reader))["ok"] is True
        # ...but a frame that starts and stalls is cut.
        writer.write(b"\x00\x00\x00\x10{")
        started = time.monotonic()
        async with asyncio.timeout(IDLE + SLACK):
            refusal = orjson.loads(await read_body(reader))
            assert refusal["ok"] is False and "not whole" in refusal["error"]["message"]
            assert await reader.read() == b""
        assert time.monotonic() - started < IDLE + SLACK
    finally:
        writer.close()

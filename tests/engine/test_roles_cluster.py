"""Tokens with roles and the listeners' limits, attacked on a real cluster (issue #18).

The table test is generated: every gateway route (from the app itself) with no token, an
unknown one, a reader's, a writer's and an admin's, expected exactly as the OpenAPI document's
``x-gate-role`` says (401, 403, or let through), and every route of a node's own port the same.
Requests that are let through use values no handler can act on (node9, a missing store), so
they do no harm; refused writes are checked to have written nothing on any node.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from bench.lib.websockets import never_reading_websocket
from engine.client import GateClient, GateError
from engine.cluster_secret import cluster_key, resolve_cluster_secret
from engine.config_model import ROLES
from engine.node.http_app import ROUTE_ROLES as NODE_ROUTE_ROLES
from engine.protocol.commands import build_create_store
from engine.protocol.framing import ClientHandshake, read_body
from tests.api_routes import gateway_routes
from tests.cluster_harness import RunningCluster, wait_for
from tests.raw_wire import refused

pytestmark = pytest.mark.slow

TOKENS = {"reader": "r-secret", "writer": "w-secret", "admin": "a-secret", "hammer": "h-secret"}
OPENAPI = Path(__file__).resolve().parents[2] / "engine" / "gateway" / "openapi.yaml"
SEND_TIMEOUT = 1.0
PER_CLIENT = 3
IN_ALL = 4
HEARTBEAT = 20.0  # the gateway's WebSocket ping interval: a later close could be the heartbeat's


def security() -> dict[str, Any]:
    roles = {"reader": "reader", "writer": "writer", "admin": "admin", "hammer": "reader"}
    return {
        "tokens": [
            {"name": f"{name}-1", "token": TOKENS[name], "role": role}
            for name, role in roles.items()
        ],
        # Generous: only the hammer's burst below goes over it.
        "rateLimit": {"perSecond": 100, "burst": 200},
    }


EXTRA = {
    "security": security(),
    "limits": {
        "maxWebSocketsPerClient": PER_CLIENT,
        "maxWebSockets": IN_ALL,
        "webSocketSendTimeout": SEND_TIMEOUT,
    },
}


def documented_roles() -> dict[tuple[str, str], str]:
    document = yaml.safe_load(OPENAPI.read_text())
    return {
        (method.upper(), path): operation["x-gate-role"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def expected(needed: str, role: str | None) -> int | None:
    if needed == "none":
        return None
    if role not in ROLES:  # no token, or an unknown one
        return 401
    return None if ROLES.index(role) >= ROLES.index(needed) else 403  # type: ignore[arg-type]


HARMLESS = {"node_id": "node9", "action": "kill", "store": "nope", "version": "1"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: HARMLESS.get(m.group(1), "x"), path)


async def sweep(url: str, routes: dict[tuple[str, str], str], counts: dict[str, int]) -> list[str]:
    """Every route with every kind of caller; the mismatches."""
    problems = []
    async with aiohttp.ClientSession() as http:
        for (method, path), needed in sorted(routes.items()):
            for role in (None, "unknown", *ROLES):
                token = "guess" if role == "unknown" else TOKENS.get(role or "")
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                body = b"{}" if method in ("POST", "PUT") else None
                async with http.request(
                    method, url + concrete(path), data=body, headers=headers
                ) as resp:
                    status = resp.status
                    answer = await resp.read()
                want = expected(needed, role)
                counts[str(status)] = counts.get(str(status), 0) + 1
                ok = status == want if want else status not in (401, 403) and status < 500
                if not ok:
                    problems.append(f"{method} {path} as {role}: {status} {answer[:200]!r}")
    return problems


async def test_every_route_with_every_role(make_cluster: Any) -> None:
    cluster: RunningCluster = await make_cluster(extra=EXTRA)
    served = {
        (method, path)
        for path, methods in (await gateway_routes(cluster)).items()
        for method in methods
        if method != "HEAD"
    }
    routes = documented_roles()
    assert set(routes) == served, "openapi.yaml and the app name different routes"
    counts: dict[str, int] = {}
    problems = await sweep(cluster.url, routes, counts)
    node = cluster.node_url("node2")
    node_routes = {key: role or "none" for key, role in NODE_ROUTE_ROLES.items()}
    problems += await sweep(node, node_routes, counts)
    print(f"{len(routes)} gateway + {len(node_routes)} node routes x 5 callers: {counts}")
    assert not problems, "\n".join(problems)

    # What refused requests would have written is nowhere, on any node.
    for role in ("reader", "writer"):
        async with GateClient(cluster.url, token=TOKENS[role], retry_deadline=0) as client:
            with pytest.raises(GateError) as info:
                await client.create_store("refused_store")
            assert info.value.status == 403 and info.value.details["needed"] == "admin"
            assert (await client.whoami())["role"] == role
    async with GateClient(cluster.url, token=TOKENS["reader"], retry_deadline=0) as reader:
        with pytest.raises(GateError) as info:
            await reader.append("reg_gh", "refused", [{"event_type": "t", "data": {}}])
        assert info.value.code == "forbidden" and "needs the writer role" in info.value.message
    async with GateClient(cluster.url, token=TOKENS["writer"]) as writer:
        await writer.append("reg_gh", "allowed", [{"event_type": "t", "data": {}}])
    for node_id in cluster.config.node_ids:
        events = await wait_for(
            lambda n=node_id: cluster.node_all(n), lambda e: len(e) == 1, 10, "the write"
        )
        assert {e["stream_id"] for e in events} == {"allowed"}, node_id
        stores = (await cluster.node_get(node_id, "/api/stores"))["stores"]
        assert "refused_store" not in {s["store_id"] for s in stores}


async def too_many_headers(port: int, count: int) -> tuple[bytes, bytes]:
    """A GET with ``count`` extra header lines, over a raw socket: the status line and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = "".join(f"X-Pad-{n}: {n}\r\n" for n in range(count))
        request = f"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{lines}\r\n"
        writer.write(request.encode())
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


async def test_rate_limit_and_header_limits(make_cluster: Any) -> None:
    cluster: RunningCluster = await make_cluster(extra={**EXTRA, "limits": {"maxHeaders": 20}})
    for port in (cluster.config.gateway.http.port, cluster.config.node("node2").http.port):
        status, body = await too_many_headers(port, 25)
        assert re.match(rb"HTTP/1\.[01] 400 ", status), status
        assert orjson.loads(body)["error"]["code"] == "invalid_request"
        status, _ = await too_many_headers(port, 10)
        assert re.match(rb"HTTP/1\.[01] 200 ", status), status

    statuses: dict[int, int] = {}
    retry_after = set()
    headers = {"Authorization": f"Bearer {TOKENS['hammer']}"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def one() -> None:
            async with http.get(cluster.url + "/api/whoami") as resp:
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status == 429:
                    body = await resp.json()
                    assert body["error"]["code"] == "rate_limited"
                    retry_after.add(resp.headers["Retry-After"])

        await asyncio.gather(*(one() for _ in range(400)))
    assert statuses.get(429, 0) >= 100 and statuses[200] >= 200, statuses
    assert retry_after == {"1"}
    # Another token has its own bucket.
    async with GateClient(cluster.url, token=TOKENS["reader"], retry_deadline=0) as reader:
        assert (await reader.whoami())["name"] == "reader-1"


async def open_ws(url: str, local: str = "127.0.0.1") -> tuple[aiohttp.ClientSession, Any]:
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    http = aiohttp.ClientSession(
        connector=connector, headers={"Authorization": f"Bearer {TOKENS['reader']}"}
    )
    try:
        return http, await http.ws_connect(url + "/api/stores/reg_gh/observe")
    except BaseException:
        await http.close()
        raise


async def test_websockets_per_client_and_in_all(make_cluster: Any) -> None:
    cluster: RunningCluster = await make_cluster(extra=EXTRA)
    opened = [await open_ws(cluster.url) for _ in range(PER_CLIENT)]
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await open_ws(cluster.url)
        assert info.value.status == 429
        opened.append(await open_ws(cluster.url, "127.0.0.2"))  # another address: the 4th
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await open_ws(cluster.url, "127.0.0.3")
        assert info.value.status == 503
        # A closed one frees its place at once.
        http, ws = opened.pop(0)
        await ws.close()
        await http.close()
        opened.append(
            await wait_for(lambda: open_ws(cluster.url), lambda _: True, 5, "a free place")
        )
    finally:
        for http, ws in opened:
            await ws.close()
            await http.close()


async def test_a_websocket_that_never_reads_is_closed(make_cluster: Any) -> None:
    cluster: RunningCluster = await make_cluster(extra=EXTRA)
    port = cluster.config.gateway.http.port
    path = "/api/stores/reg_gh/observe?buffer=100000"
    sock = await never_reading_websocket(port, path, TOKENS["reader"])
    opened_at = time.monotonic()
    try:
        big = "x" * 20_000
        async with cluster.new_client() as client:
            # ~10 MB the client never takes: the gateway's send waits, then gives up on it.
            for i in range(25):
                events = [{"event_type": "t", "data": {"i": i, "pad": big}} for _ in range(20)]
                await client.append("reg_gh", "flood", events)

            # Its place is given back: PER_CLIENT new ones open from the same address.
            async def all_places() -> list[tuple[aiohttp.ClientSession, Any]]:
                got: list[tuple[aiohttp.ClientSession, Any]] = []
                try:
                    for _ in range(PER_CLIENT):
                        got.append(await open_ws(cluster.url))
                except aiohttp.WSServerHandshakeError:
                    for http, ws in got:
                        await ws.close()
                        await http.close()
                    raise
                return got

            # Before the WebSocket heartbeat (20 s, then 10 s for the pong) could have closed it.
            deadline = HEARTBEAT - (time.monotonic() - opened_at)
            opened = await wait_for(all_places, lambda _: True, deadline, "a place")
            for http, ws in opened:
                await ws.close()
                await http.close()
        # The gateway dropped the connection: what the socket still holds, then its end.
        sock.setblocking(False)
        ended = False
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(10):
            while not ended:
                try:
                    ended = not await loop.sock_recv(sock, 1 << 20)
                except ConnectionResetError:
                    ended = True
    finally:
        sock.close()


async def test_a_recorded_node_connection_replayed_is_refused(make_cluster: Any) -> None:
    """Someone who recorded a whole node connection (hello, proof, a signed propose) and plays
    it back, on a new connection or the same one, gets nothing done: the node's fresh challenge
    makes the old proof wrong, and a frame's sequence number is used once."""
    cluster: RunningCluster = await make_cluster(extra=EXTRA)
    config = resolve_cluster_secret(cluster.config, create=False)
    leader = await cluster.leader()
    port = cluster.config.node(leader).tcp.port
    propose = {
        "op": "propose",
        "id": 1,
        "command": build_create_store({"store_id": "replayed"}, now_epoch_us=0),
        "timeout": 2,
    }
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        handshake = ClientHandshake(cluster_key(config))
        hello = handshake.hello()
        writer.write(hello)
        session, proof = handshake.finish(await read_body(reader))
        signed = session.encode(propose)
        writer.write(proof + signed)
        assert session.decode(await read_body(reader))["ok"] is True  # created, once
        writer.write(signed)  # the same frame again, on the same connection
        answer = orjson.loads(await read_body(reader))
        assert answer["ok"] is False, answer
        assert await reader.read() == b"", "the node hangs up on a replayed frame"
    finally:
        writer.close()
    async with cluster.new_client() as admin:
        await admin.delete_store("replayed")
    # The whole recording on a new connection: the proof was for another challenge.
    reason = await refused(port, [hello + proof + signed])
    assert "proof" in reason or "secret" in reason, reason
    async with cluster.new_client() as admin:
        assert "replayed" not in {s["store_id"] for s in await admin.list_stores()}

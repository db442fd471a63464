"""The client's keep-alive HTTP/1.1 connections, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from engine.client import GateClient
from engine.protocol.errors import GateError
from engine.transport.http_pool import HttpPool, HttpProtocolError

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Server:
    """An aiohttp server that tells the connections its requests came on apart."""

    def __init__(self) -> None:
        self.peers: set[object] = set()
        self.release = asyncio.Event()
        self.seen: list[web.Request] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/chunked", self.chunked)
        app.router.add_get("/slow", self.slow)
        return app

    @property
    def connections(self) -> int:
        return len(self.peers)

    async def echo(self, request: web.Request) -> web.Response:
        self.seen.append(request)
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        body = await request.read()
        return web.json_response(
            {"method": request.method, "query": dict(request.query), "length": len(body)},
            headers={"Gate-Log-Index": "7"},
        )

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for part in (b'{"parts": ', b"[1, 2, ", b"3]}"):
            await resp.write(part)
        await resp.write_eof()
        return resp

    async def slow(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        await self.release.wait()
        return web.json_response({"late": True})


@pytest.fixture
async def server() -> AsyncIterator[tuple[_Server, int]]:
    srv = _Server()
    runner = web.AppRunner(srv.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield srv, runner.addresses[0][1]
    srv.release.set()
    await runner.cleanup()


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[RawHandler], Awaitable[int]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: RawHandler) -> int:
        srv = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(srv)
        return srv.sockets[0].getsockname()[1]

    yield start
    for srv in servers:
        srv.close()


async def test_requests_reuse_one_connection(server: tuple[_Server, int]) -> None:
    srv, port = server
    pool = HttpPool("127.0.0.1", port)
    for n in range(5):
        response = await pool.request("POST", f"/echo?n={n}", b'{"a": 1}')
        assert response.status == 200
        assert response.headers["gate-log-index"] == "7"
    assert srv.connections == 1
    pool.close()


async def test_a_chunked_answer_is_read_whole(server: tuple[_Server, int]) -> None:
    _, port = server
    pool = HttpPool("127.0.0.1", port)
    response = await pool.request("GET", "/chunked")
    assert response.body == b'{"parts": [1, 2, 3]}'
    pool.close()


async def test_an_answer_ended_by_the_close_is_read_whole(
    raw_server: Callable[[RawHandler], Awaitable[int]],
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"whole": true}')
        writer.close()

    pool = HttpPool("127.0.0.1", await raw_server(handler))
    response = await pool.request("GET", "/")
    assert response.body == b'{"whole": true}'
    assert not pool._idle  # not kept: the server closed it


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    raw_server: Callable[[RawHandler], Awaitable[int]],
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()  # as a server does when its keep-alive timeout runs out

    pool = HttpPool("127.0.0.1", await raw_server(handler))
    await pool.request("GET", "/")
    async with asyncio.timeout(5):
        while not pool._idle[0].closed:
            await asyncio.sleep(0.01)
    assert (await pool.request("GET", "/")).body == b"{}"
    assert len(accepted) == 2


async def test_a_cancelled_request_never_hands_its_late_answer_to_the_next(
    server: tuple[_Server, int],
) -> None:
    srv, port = server
    pool = HttpPool("127.0.0.1", port)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await pool.request("GET", "/slow")
    srv.release.set()
    response = await pool.request("POST", "/echo", b"")
    assert b'"method":"POST"' in response.body.replace(b" ", b"")
    assert srv.connections == 2
    pool.close()


async def test_an_answer_that_is_not_http_fails_cleanly(
    raw_server: Callable[[RawHandler], Awaitable[int]],
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")

    port = await raw_server(handler)
    with pytest.raises(HttpProtocolError):
        await HttpPool("127.0.0.1", port).request("GET", "/")
    client = GateClient(f"http://127.0.0.1:{port}", retry_deadline=0)
    with pytest.raises(GateError) as caught:
        await client.list_stores()
    assert caught.value.code == "unavailable"
    assert "unreadable HTTP answer" in caught.value.message
    await client.close()


async def test_the_client_sends_query_token_and_path_prefix(server: tuple[_Server, int]) -> None:
    srv, port = server
    client = GateClient(f"http://127.0.0.1:{port}/", token="sécret", retry_deadline=0)
    assert (await client._call("GET", "/echo", params={"a": "x y", "b": None})) == {
        "method": "GET",
        "query": {"a": "x y"},
        "length": 0,
    }
    assert srv.seen[-1].headers["Authorization"] == "Bearer sécret"  # UTF-8, as aiohttp reads it
    assert client.last_index == 7
    await client.close()


async def test_an_unreachable_gateway_is_one_clear_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GateClient(f"http://127.0.0.1:{port}", retry_deadline=0)
    with pytest.raises(GateError) as caught:
        await client.list_stores()
    assert caught.value.code == "unavailable"
    assert caught.value.message.startswith(f"cannot reach the gateway at http://127.0.0.1:{port}:")
    assert "\n" not in caught.value.message
    await client.close()
    other = GateClient("ftp://127.0.0.1:9", retry_deadline=0)
    with pytest.raises(GateError, match="not an http:// or https:// gateway URL"):
        await other.list_stores()


async def test_a_get_on_a_connection_closed_as_it_goes_out_is_sent_again_a_post_is_not(
    raw_server: Callable[[RawHandler], Awaitable[int]],
) -> None:
    # The server answers one request per connection and then, like one whose keep-alive
    # timeout runs out just as the next request arrives, closes it without reading further.
    accepted: list[asyncio.StreamWriter] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request: closed unanswered
        writer.close()

    pool = HttpPool("127.0.0.1", await raw_server(handler))
    await pool.request("GET", "/")
    assert (await pool.request("GET", "/")).body == b"{}"  # again, on a new connection
    assert len(accepted) == 2
    with pytest.raises(ConnectionError):  # it may have been taken: never sent twice
        await pool.request("POST", "/", b"{}")
    assert len(accepted) == 2

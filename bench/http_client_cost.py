"""What one HTTP request costs the client: aiohttp's client against Gate's own connections.

Usage: ``python -m bench.http_client_cost [--rate R] [--requests N] [--rounds K]
[--json-out [PATH]]``.

Starts an aiohttp server in another process (one POST route answering a small JSON body, as the
gateway answers an append) and sends it requests at a steady rate from this process, once with
``aiohttp.ClientSession`` and once with ``engine.transport.http_pool.HttpPool`` (what
``GateClient`` uses), in alternating rounds. Prints the round trip p50 / p99 and this process's
CPU time per request (utime + stime), which is what the client takes from the machine's two
cores per append.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import socket
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
from aiohttp import web

from bench.lib.machine import StealWatch
from bench.lib.percentiles import percentile_ms
from bench.lib.results import Results, add_json_out
from engine.transport.http_pool import HttpPool

PATH = "/api/stores/bench/streams/s1/events"
BODY = orjson.dumps(
    {
        "expected_version": "any",
        "events": [{"event_id": "3f1c8a4e-2b7d-4e8f-9a1c-0d2e3f4a5b6c", "event_type": "t:v1"}],
    }
)
HEADERS = {"Content-Type": "application/json"}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _serve(sock: socket.socket) -> None:
    async def append(request: web.Request) -> web.Response:
        orjson.loads(await request.read())
        return web.Response(
            body=orjson.dumps({"version": 0, "position": 1}),
            content_type="application/json",
            headers={"Gate-Log-Index": "1"},
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_post(PATH, append)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        await asyncio.Event().wait()

    asyncio.run(main())


Round = tuple[list[float], float]  # round trips (s), client CPU per request (s)


async def _paced(one: Callable[[], Awaitable[object]], rate: float, n: int) -> Round:
    for _ in range(50):  # warm up: connections open, code paths hot
        await one()
    latencies: list[float] = []
    cpu0 = _cpu()
    t0 = time.perf_counter()
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        start = time.perf_counter()
        await one()
        latencies.append(time.perf_counter() - start)
    return latencies, (_cpu() - cpu0) / n


async def _with_aiohttp(port: int, rate: float, n: int) -> Round:
    url = f"http://127.0.0.1:{port}{PATH}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:

        async def one() -> object:
            async with session.post(url, data=BODY, headers=HEADERS) as resp:
                resp.headers.get("Gate-Log-Index")
                return orjson.loads(await resp.read())

        return await _paced(one, rate, n)


async def _with_pool(port: int, rate: float, n: int) -> Round:
    pool = HttpPool("127.0.0.1", port)
    headers = list(HEADERS.items())

    async def one() -> object:
        async with asyncio.timeout(15):
            resp = await pool.request("POST", PATH, BODY, headers)
        resp.headers.get("gate-log-index")
        return orjson.loads(resp.body)

    try:
        return await _paced(one, rate, n)
    finally:
        pool.close()


def main() -> None:
    """Parse the options and run the alternating rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each client")
    add_json_out(parser, "http_client_cost")
    args = parser.parse_args()
    results = Results("http_client_cost", args.json_out)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(sock,), daemon=True)
    server.start()
    port = sock.getsockname()[1]
    print(f"HTTP client cost, {args.rate:g} requests/s, {args.requests} per round")
    try:
        for _ in range(args.rounds):
            for name, run in (("aiohttp.ClientSession", _with_aiohttp), ("HttpPool", _with_pool)):
                with StealWatch() as steal:
                    latencies, cpu = asyncio.run(run(port, args.rate, args.requests))
                figures = {
                    "p50_ms": round(percentile_ms(latencies, 0.5), 3),
                    "p99_ms": round(percentile_ms(latencies, 0.99), 3),
                    "cpu_us_per_request": round(cpu * 1e6, 1),
                }
                results.add(name, figures, steal.result)
                print(
                    f"  {name:22s} p50 {percentile_ms(latencies, 0.5):5.2f}"
                    f"  p99 {percentile_ms(latencies, 0.99):5.2f} ms"
                    f"  client CPU {cpu * 1e6:4.0f} us/request"
                )
    finally:
        server.terminate()
    results.save()


if __name__ == "__main__":
    main()

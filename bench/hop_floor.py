"""The latency floor of the append path's shape on this machine, with no engine in it.

Usage: ``python -m bench.hop_floor [--rate R] [--duration S] [--json-out [PATH]]``.

An append crosses six process boundaries: client -> gateway -> leader -> follower -> leader ->
gateway -> client (the observer's copy takes the same number). This starts three relay
processes (gateway, leader, follower) that do nothing but pass a small frame on over loopback
TCP, and sends frames around that loop at a steady rate from an open-loop pacer, as
``bench.observer_latency`` does with appends. The figures are what any design with this shape
pays on this machine before doing any work: mostly the time an idle process takes to wake up.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import struct
import time

from bench.lib.machine import StealWatch
from bench.lib.percentiles import percentile_ms
from bench.lib.results import Results, add_json_out

_LEN = struct.Struct(">I")


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = _LEN.unpack(await reader.readexactly(4))
    return await reader.readexactly(size)


def _frame(body: bytes) -> bytes:
    return _LEN.pack(len(body)) + body


async def _relay(listener: socket.socket, route: dict[bytes, int]) -> None:
    """Forward each frame to the port its first byte names (the hop it is at)."""
    writers: dict[int, asyncio.StreamWriter] = {}

    async def serve(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                body = await _read_frame(reader)
            except asyncio.IncompleteReadError:
                return
            port = route[body[:1]]
            if port not in writers:
                writers[port] = (await asyncio.open_connection("127.0.0.1", port))[1]
            writers[port].write(_frame(bytes([body[0] + 1]) + body[1:]))

    server = await asyncio.start_server(serve, sock=listener)
    async with server:
        await server.serve_forever()


def _run_relay(listener: socket.socket, route: dict[bytes, int]) -> None:
    asyncio.run(_relay(listener, route))


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


async def measure(rate: float, duration: float) -> list[float]:
    """Send frames around the six-hop loop at ``rate`` per second; the round trips (s)."""
    client = _listener()
    gateway, leader, follower = _listener(), _listener(), _listener()
    port = {
        name: sock.getsockname()[1]
        for name, sock in (("c", client), ("g", gateway), ("l", leader), ("f", follower))
    }
    # The first byte counts the hops made: 0 at the client, then 1, 2, ... as relays pass it on.
    routes = {
        "g": {b"\x00": port["l"], b"\x04": port["c"]},
        "l": {b"\x01": port["f"], b"\x03": port["g"]},
        "f": {b"\x02": port["l"]},
    }
    procs = [
        multiprocessing.Process(target=_run_relay, args=(sock, routes[name]), daemon=True)
        for name, sock in (("g", gateway), ("l", leader), ("f", follower))
    ]
    for proc in procs:
        proc.start()
    sent: dict[int, float] = {}
    trips: list[float] = []
    done = asyncio.Event()
    total = int(rate * duration)

    async def back(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        while len(trips) < total:
            body = await _read_frame(reader)
            trips.append(time.perf_counter() - sent[int(body[1:])])
        done.set()

    server = await asyncio.start_server(back, sock=client)
    _, out = await asyncio.open_connection("127.0.0.1", port["g"])
    try:
        t0 = time.perf_counter()
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[i] = time.perf_counter()
            out.write(_frame(b"\x00" + str(i).encode()))
        await asyncio.wait_for(done.wait(), 10)
    finally:
        server.close()
        for proc in procs:
            proc.kill()
    return trips


def main() -> None:
    """Parse the options, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="round trips per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds")
    add_json_out(parser, "hop_floor")
    args = parser.parse_args()
    with StealWatch() as steal:
        trips = asyncio.run(measure(args.rate, args.duration))
    figures = {f"p{round(q * 100)}_ms": round(percentile_ms(trips, q), 3) for q in (0.5, 0.9, 0.99)}
    figures["max_ms"] = round(percentile_ms(trips, 1.0), 3)
    results = Results("hop_floor", args.json_out)
    results.add(
        f"six hops at {args.rate:g}/s", {"round_trips": len(trips), **figures}, steal.result
    )
    print(
        f"six hops, {args.rate:g}/s for {args.duration:g} s, {len(trips)} round trips: "
        f"p50 {percentile_ms(trips, 0.5):.2f}  p90 {percentile_ms(trips, 0.9):.2f}  "
        f"p99 {percentile_ms(trips, 0.99):.2f}  max {percentile_ms(trips, 1.0):.2f} ms"
        f"  (CPU steal {steal.average:.1f}%)"
    )
    results.save()


if __name__ == "__main__":
    main()

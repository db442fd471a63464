"""The Redis Streams baseline of the append benchmark: XADD from redis-py's asyncio client.

Usage: ``python -m bench.redis_baseline [--duration S] [--warmup S] [--fsync always,everysec]
[--json-out [PATH]]``.

Needs ``redis-server`` on the PATH (``apt-get install -y redis-server``) and redis-py
(``pip install -e '.[bench]'``).  For each fsync mode it starts a private
``redis-server --save "" --appendonly yes --appendfsync <mode>`` on a free port in a temporary
directory, then runs the same scenarios as ``append_bench.py``: A, 16 tasks doing one XADD at a
time (one stream each); B, 4 tasks each sending 100 XADDs in one pipeline
(``transaction=False``).  Every entry carries what a Gate event carries: an event id made by the
client, the type, and data and metadata as JSON.  All tasks share one ``redis.asyncio.Redis``
(its connection pool), as an application would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import redis.asyncio as redis
from redis.exceptions import RedisError

from bench.lib.cluster import free_ports
from bench.lib.driver import (
    SCENARIOS,
    ScenarioResult,
    print_header,
    print_results,
    run_scenario,
)
from bench.lib.machine import CpuMeter
from bench.lib.redis_streams import RedisTarget, redis_command, wait_until_serving
from bench.lib.results import Results, add_json_out

FSYNC_MODES = ("always", "everysec")


async def run_mode(args: argparse.Namespace, fsync: str, directory: Path, results: Results) -> bool:
    """Start a server with ``appendfsync fsync``, run the scenarios, print; False on a mismatch."""
    port = free_ports(1)[0]
    cmd = redis_command(args.redis_server, port, fsync, directory)
    server = await asyncio.create_subprocess_exec(
        *cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        try:
            await wait_until_serving(client, server)
            info = await client.info("server")
            print(
                f"\nserver:   redis {info['redis_version']} on 127.0.0.1:{port}, appendonly yes,"
                f" appendfsync {fsync}, save '' (data in {directory})"
            )
            target = RedisTarget(client, args.seed)
            meter = CpuMeter({"client": os.getpid(), "redis-server": server.pid})
            for scenario in SCENARIOS:
                await run_scenario(
                    scenario,
                    args.warmup,
                    target.request_for(scenario, "warmup"),
                    meter,
                    expected_errors=(RedisError,),
                )
            measured: list[ScenarioResult] = []
            for scenario in SCENARIOS:
                request = target.request_for(scenario, "run")
                measured.append(
                    await run_scenario(
                        scenario, args.duration, request, meter, expected_errors=(RedisError,)
                    )
                )
            print_results(f"Redis Streams, appendfsync {fsync}", measured)
            for r in measured:
                results.add(f"appendfsync {fsync}, {r.scenario.title}", r.figures(), r.steal)
            stored = 0
            for stream in sorted(target.streams):
                stored += await client.xlen(stream)
            ok = stored == target.appended
            print(
                f"\nsanity: {stored:,} entries stored, {target.appended:,} acknowledged:"
                f" {'OK' if ok else 'MISMATCH'}"
            )
            return ok
        finally:
            await client.aclose()
    finally:
        server.terminate()
        await server.wait()


async def main_async(args: argparse.Namespace, results: Results) -> bool:
    """Run every requested fsync mode on a fresh server of its own."""
    print_header(
        "Redis Streams baseline (XADD)",
        {
            "config": "redis-server --save '' --appendonly yes --appendfsync <mode>",
            "client": "one shared redis.asyncio.Redis (connection pool), RESP2",
            "run": f"warm-up {args.warmup:g} s, then {args.duration:g} s per scenario",
        },
        ("redis", "hiredis", "orjson"),
    )
    ok = True
    for fsync in args.fsync:
        directory = Path(tempfile.mkdtemp(prefix=f"redis-bench-{fsync}-", dir=args.dir))
        try:
            ok = await run_mode(args, fsync, directory, results) and ok
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    return ok


def main() -> None:
    """Parse the options, run the baseline, exit 1 if an acknowledged entry is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per scenario")
    parser.add_argument(
        "--fsync",
        type=lambda s: [m for m in s.split(",") if m],
        default=list(FSYNC_MODES),
        help="comma-separated appendfsync modes (always,everysec)",
    )
    parser.add_argument("--redis-server", default="redis-server", help="the server binary")
    parser.add_argument("--dir", help="parent directory of the data (not tmpfs!)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the event payloads")
    add_json_out(parser, "redis_baseline")
    args = parser.parse_args()
    unknown = [m for m in args.fsync if m not in FSYNC_MODES]
    if unknown:
        parser.error(f"unknown appendfsync mode {unknown[0]!r}; use {', '.join(FSYNC_MODES)}")
    if shutil.which(args.redis_server) is None:
        parser.error(f"{args.redis_server} not found: apt-get install -y redis-server")
    results = Results("redis_baseline", args.json_out)
    ok = asyncio.run(main_async(args, results))
    results.save()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

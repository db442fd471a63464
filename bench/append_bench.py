"""Append benchmark of Gate: through the gateway, 3 nodes, majority quorum, fsync always.

Usage: ``python -m bench.append_bench [--duration S] [--warmup S] [--url URL [--ca PEM]]
[--tls] [--profile DIR] [--json-out [PATH]]``.  ``--tls`` runs everything twice, on a cluster
without TLS and then on one with it (dev certificates in its temporary directory).

Starts its own 3-node cluster in a temporary directory (or uses ``--url``), warms up, then runs
scenario A (16 tasks, single-event appends, one stream each, expected_version "any") and
scenario B (4 tasks, 100-event batches) for ``--duration`` seconds each, and prints events/s,
requests/s, latency percentiles (nearest rank), the CPU each process used and per event, and
checks that every node holds the same number of events.  All tasks share ONE ``GateClient``
(one aiohttp session with keep-alive connections), as an application would.  ``--profile DIR``
records each process with py-spy during the timed runs (slower figures then) and prints the top
frames.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bench.lib.cluster import BENCH_STORE, GateTarget, process_ids, temporary_cluster
from bench.lib.driver import (
    SCENARIOS,
    ScenarioResult,
    print_header,
    print_results,
    run_scenario,
)
from bench.lib.machine import CpuMeter
from bench.lib.results import Results, add_json_out
from engine import cli_support
from engine.cli_support import add_tls_arguments
from engine.client import GateClient
from engine.client.results import NodeView
from engine.protocol.errors import GateError


async def _node_events(
    http: aiohttp.ClientSession, nodes: list[NodeView], store: str, scheme: str
) -> dict[str, int]:
    counts = {}
    for node in nodes:
        async with http.get(f"{scheme}://{node['http']['addr']}/api/stores/{store}") as resp:
            counts[node["node_id"]] = int((await resp.json())["events"])
    return counts


_COALESCING = (
    "gate_gateway_propose_frames_total",
    "gate_gateway_proposals_total",
    "gate_node_proposals_total",
    "gate_node_fsyncs_total",
)


async def coalescing_counters(url: str, leader_url: str, token: str | None) -> dict[str, float]:
    """The gateway's frames of proposals and proposals sent, the leader's proposals and rounds
    (its fsyncs)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    counters: dict[str, float] = {}
    async with aiohttp.ClientSession(headers=headers) as http:
        for where in (url, leader_url):
            async with http.get(f"{where}/metrics") as resp:
                text = await resp.text()
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                name = name.split("{")[0]
                if name in _COALESCING:
                    counters[name] = float(value)
    return counters


def coalescing_line(key: str, before: dict[str, float], after: dict[str, float]) -> str:
    """``   coalescing in A: 8.1 appends per frame to the leader, 10.7 per leader round``."""
    frames, sent, proposed, rounds = (after.get(n, 0) - before.get(n, 0) for n in _COALESCING)
    per_frame = f"{sent / frames:.1f}" if frames else "-"
    per_round = f"{proposed / rounds:.1f}" if rounds else "-"
    return (
        f"   coalescing in {key}: {per_frame} writes per frame to the leader, {per_round} per "
        "leader round (fsync)"
    )


async def check_replicas(
    client: GateClient, store: str, expected: int | None, timeout: float = 15.0
) -> bool:
    """Wait until every node holds the same number of events (and ``expected`` if given)."""
    nodes = (await client.cluster())["nodes"]
    headers = {"Authorization": f"Bearer {client.token}"} if client.token else None
    deadline = time.monotonic() + timeout
    # The nodes' certificates come from the gateway's CA: the client's context verifies them.
    connector = aiohttp.TCPConnector(ssl=client.tls or True)
    scheme = "https" if client.tls else "http"
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
        while True:
            counts = await _node_events(http, nodes, store, scheme)
            values = set(counts.values())
            ok = len(values) == 1 and (expected is None or values == {expected})
            if ok or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)  # followers apply a few milliseconds behind the leader
    shown = ", ".join(f"{node} {n:,}" for node, n in counts.items())
    wanted = f" (expected {expected:,})" if expected is not None else ""
    print(f"\nsanity: events per node: {shown}{wanted}: {'OK' if ok else 'MISMATCH'}")
    return ok


def start_profilers(pids: dict[str, int], out: Path, tag: str, seconds: float) -> list[Any]:
    """One ``py-spy record`` per process for ``seconds``, as collapsed stacks (raw format)."""
    out.mkdir(parents=True, exist_ok=True)
    procs = []
    for name, pid in pids.items():
        path = out / f"{tag}-{name.split()[0]}.txt"
        cmd = ["py-spy", "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
        cmd += ["--rate", "100", "--nonblocking", "--format", "raw", "--output", str(path)]
        procs.append((name, path, subprocess.Popen(cmd, stdout=subprocess.DEVNULL)))
    return procs


def summarize_profile(path: Path, top: int) -> list[str]:
    """The functions with the most samples in a collapsed-stack file: self and inclusive."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        # A frame reads "function (file:line)"; group by function and file, not by line.
        frames = [f.rsplit(":", 1)[0] + ")" if ":" in f else f for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return ["  (no samples)"]
    lines = [f"  {total} samples; self:"]
    lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("  inclusive:")
    lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    return lines


async def run(
    args: argparse.Namespace,
    url: str,
    gateway_pid: int | None,
    fresh: bool,
    results: Results,
    tls: dict[str, str],
) -> bool:
    """Warm up, run the scenarios, print everything; False when the sanity check fails."""
    async with GateClient(
        url, token=args.token, ca=tls.get("ca"), cert=tls.get("cert"), key=tls.get("key")
    ) as client:
        view = await client.cluster()
        if not fresh:
            try:
                await client.create_store(args.store)
            except GateError as exc:
                if exc.code != "store_exists":
                    raise
        before = (await client.get_store(args.store))["events"]
        target = GateTarget(client, args.store, args.seed)
        pids = process_ids(view, url, gateway_pid)
        meter = CpuMeter(pids)
        leader = view["leader"]
        print_header(
            "Gate append benchmark",
            {
                "target": f"{url} (gateway), leader {leader}, {len(view['nodes'])} nodes"
                + ("" if fresh else " (existing cluster: its own config)"),
                "config": "storage.fsync always, replication.writeQuorum majority"
                if fresh
                else "see the cluster's config file",
                "client": "one shared GateClient (aiohttp, keep-alive), expected_version 'any'",
                "run": f"warm-up {args.warmup:g} s, then {args.duration:g} s per scenario",
            },
            ("aiohttp", "orjson"),
        )
        for scenario in SCENARIOS:
            await run_scenario(
                scenario,
                args.warmup,
                target.request_for(scenario, "warmup"),
                meter,
                expected_errors=(GateError,),
            )
        measured: list[ScenarioResult] = []
        profiles = []
        coalescing: list[str] = []
        leader_node = next((n for n in view["nodes"] if n["node_id"] == leader), None)
        # Over plain HTTP only: the figures are the same with TLS.
        leader_url = None if client.tls or leader_node is None else leader_node["http"]["addr"]
        for scenario in SCENARIOS:
            if leader_url is not None:
                counted = await coalescing_counters(url, f"http://{leader_url}", args.token)
            if args.profile:
                procs = start_profilers(pids, args.profile, scenario.key, args.duration)
                profiles.append((scenario, procs))
                await asyncio.sleep(0.5)  # let py-spy attach before the clock starts
            measured.append(
                await run_scenario(
                    scenario,
                    args.duration,
                    target.request_for(scenario, "run"),
                    meter,
                    expected_errors=(GateError,),
                )
            )
            if leader_url is not None:
                after = await coalescing_counters(url, f"http://{leader_url}", args.token)
                coalescing.append(coalescing_line(scenario.key, counted, after))
        label = "Gate, 3 nodes, majority, fsync always" if fresh else f"Gate at {url}"
        label += " (under py-spy)" if profiles else ""
        label += ", TLS" if client.tls else ""
        print_results(label, measured)
        print("\n".join(coalescing))
        for r in measured:
            results.add(r.scenario.title + (" (TLS)" if client.tls else ""), r.figures(), r.steal)
        for scenario, procs in profiles:
            for name, path, proc in procs:
                await asyncio.to_thread(proc.wait)
                print(f"\nprofile {scenario.key} / {name}: {path}")
                if path.exists():
                    print("\n".join(summarize_profile(path, args.top)))
        expected = before + target.appended if fresh else None
        return await check_replicas(client, args.store, expected)


async def main_async(args: argparse.Namespace, results: Results) -> bool:
    """Run against ``--url`` or against a cluster of our own, stopped afterwards."""
    if args.url:
        tls = {k: v for k in ("ca", "cert", "key") if (v := getattr(args, k)) is not None}
        return await run(args, args.url, args.gateway_pid, False, results, tls)
    ok = True
    # --tls: the same scenarios on a cluster without TLS, then on one with it (same run).
    for tls_on in (False, True) if args.tls else (False,):
        async with temporary_cluster(args.dir, args.nodes, keep=args.keep, tls=tls_on) as cluster:
            where = cluster.config_path.parent
            print(f"cluster: {cluster.config_path} (data and logs under {where})")
            tls = cluster.embedded.tls_options
            ok = await run(args, cluster.url, cluster.gateway_pid, True, results, tls) and ok
    return ok


def main() -> None:
    """Parse the options, run the benchmark, exit 1 if the replicas disagree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per scenario")
    parser.add_argument("--url", help="an existing gateway instead of a cluster of our own")
    parser.add_argument("--token", default=os.environ.get("GATE_AUTH_TOKEN"))
    add_tls_arguments(parser)
    parser.add_argument(
        "--tls", action="store_true", help="run without, then with TLS (dev certs); own cluster"
    )
    parser.add_argument("--store", default=BENCH_STORE, help="store to append to (with --url)")
    parser.add_argument("--gateway-pid", type=int, help="with --url: measure this process too")
    parser.add_argument("--nodes", type=int, default=3, help="cluster size (own cluster)")
    parser.add_argument("--dir", help="parent directory of the cluster's data (not tmpfs!)")
    parser.add_argument("--keep", action="store_true", help="keep the data and logs")
    parser.add_argument("--seed", type=int, default=1, help="seed of the event payloads")
    parser.add_argument("--profile", type=Path, help="record py-spy profiles into this dir")
    parser.add_argument("--top", type=int, default=15, help="frames shown per profile")
    add_json_out(parser, "append_bench")
    args = parser.parse_args()
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy: pip install py-spy")
    results = Results("append_bench", args.json_out)
    ok = cli_support.run(main_async(args, results))
    results.save()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

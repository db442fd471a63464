"""Fault soak: the failover tests' workload under many random process faults, for minutes.

Usage: ``python -m bench.fault_soak [--minutes M] [--seed S] [--nodes N] [--writers W]
[--faults KIND,...] [--compact-after N] [--retry-deadline S] [--request-timeout S] [--keep]
[--json-out [PATH]]`` (run from the repository root).

Starts its own cluster in a temporary directory (``replication.compactAfter`` small, 200 by
default, so that a node down for a moment is sent a snapshot), runs the writers and the prober of
``bench/lib/nemesis.py`` (those ``tests/faults`` run), and injects seeded random faults one at a
time (SIGKILL, SIGSTOP or graceful stop of the leader or a follower, isolation from its peers
then heal, leadership transfer, a follower's data wiped, a new node added and a follower
removed; each healed before the next) until the time is up. Prints a fault log (a node that
caught up by installing a snapshot says so), the write unavailability per fault kind (max and
p50), the snapshot installs, and the checker's verdict on every member's ``$all`` (a node added
during the run included). Exits 1 on a violation or a stuck cluster, keeping the cluster
directory (node logs under ``data/logs/``, ``gateway.log``) for a post-mortem.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.lib.cluster import RunningCluster, cluster_config, start_cluster
from bench.lib.machine import StealWatch
from bench.lib.nemesis import (
    FAULTS,
    FaultRecord,
    Nemesis,
    Workload,
    converge,
    unavailability_summary,
)
from bench.lib.percentiles import nearest_rank
from bench.lib.results import Figure, Results, add_json_out
from engine.client.checker import check_histories


def _log(line: str) -> None:
    print(line, flush=True)


def unavailability_figures(records: list[FaultRecord]) -> dict[str, Figure]:
    """Faults, and write unavailability in seconds per fault kind (nearest-rank p50, max)."""
    figures: dict[str, Figure] = {"faults": len(records)}
    for kind in sorted({r.kind for r in records}):
        values = sorted(
            r.unavailable_s for r in records if r.kind == kind and r.unavailable_s is not None
        )
        figures[f"{kind} n"] = sum(1 for r in records if r.kind == kind)
        figures[f"{kind} p50_s"] = round(nearest_rank(values, 0.5), 3) if values else None
        figures[f"{kind} max_s"] = round(values[-1], 3) if values else None
    return figures


async def soak(directory: Path, args: argparse.Namespace, results: Results) -> bool:
    """Run the soak in ``directory``; True when the checker found nothing wrong."""
    rng = random.Random(args.seed)
    # Health polled every 0.2 s as in tests/faults, so the nemesis sees a node's return soon.
    extra = {
        "gateway": {"requestTimeout": args.request_timeout, "healthInterval": 0.2},
        "replication": {"compactAfter": args.compact_after},
    }
    raw = cluster_config(directory, args.nodes, extra=extra)
    cluster: RunningCluster = await start_cluster(directory, raw)
    stuck: str | None = None
    try:
        workload = Workload(
            cluster.url,
            token=cluster.config.security.admin_token,
            writers=args.writers,
            seed=args.seed,
            retry_deadline=args.retry_deadline,
        )
        workload.start()
        try:
            with StealWatch() as steal:
                async with Nemesis(cluster, workload, rng=rng, log=_log) as nemesis:
                    _log(f"soak: {args.minutes:g} min, seed {args.seed}, faults {args.faults}")
                    end = time.monotonic() + args.minutes * 60
                    try:
                        while time.monotonic() < end:
                            # Random quiet spells, so faults also hit a cluster mid-recovery.
                            await asyncio.sleep(rng.uniform(0.2, 2.0))
                            record = await nemesis.inject(rng.choice(args.faults))
                            if record.unavailable_s is None:
                                stuck = f"no write acknowledged after {record.describe()}"
                                break
                        await nemesis.heal()
                    except AssertionError as exc:  # a wait of the nemesis timed out
                        stuck = str(exc)
                    conflicts = nemesis.history.conflicts()
        finally:
            await workload.stop()
        _log(unavailability_summary(nemesis.records))
        _log(f"attempts: {dict(workload.counts())}")
        installs = [r.kind for r in nemesis.records if r.snapshot_installed]
        _log(f"snapshot installs: {len(installs)} ({dict(Counter(installs))})")
        # The members at the end: a node added during the run included, a removed one not.
        histories = await converge(
            cluster, workload.attempts, timeout=60, nodes=nemesis.probe.members
        )
        verdict = check_histories(histories, workload.attempts)
        _log(verdict.report())
        if conflicts:
            _log(f"VIOLATION: two leaders in one term: {conflicts}")
        if stuck:
            _log(f"STUCK: {stuck}")
        ok = verdict.ok and not conflicts and stuck is None
        figures = unavailability_figures(nemesis.records)
        figures |= {
            "seed": args.seed,
            "minutes": args.minutes,
            "snapshot_installs": len(installs),
            "ok": int(ok),
        }
        results.add(f"{args.nodes} nodes, {args.writers} writers", figures, steal.result)
        return ok
    finally:
        await cluster.embedded.stop()


def main() -> None:
    """Parse the arguments, run the soak and exit 1 on a violation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument(
        "--faults",
        type=lambda text: text.split(","),
        default=sorted(FAULTS),
        help=f"comma-separated kinds among {', '.join(sorted(FAULTS))} (default: all)",
    )
    parser.add_argument(
        "--compact-after", type=int, default=200, help="replication.compactAfter (entries)"
    )
    parser.add_argument(
        "--retry-deadline", type=float, default=3.0, help="the writers' client retry deadline"
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=5.0,
        help="gateway.requestTimeout; small values surface more 503/504 outcomes",
    )
    parser.add_argument("--keep", action="store_true", help="keep the cluster directory")
    add_json_out(parser, "fault_soak")
    args = parser.parse_args()
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    directory = Path(tempfile.mkdtemp(prefix="gate-soak-"))
    results = Results("fault_soak", args.json_out)
    ok = asyncio.run(soak(directory, args, results))
    results.save()
    if ok and not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        _log(f"cluster directory: {directory} (logs: data/logs/node*.log, gateway.log)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

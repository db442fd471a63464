"""Failover time per leader fault: from the fault to the first acknowledged write sent after it.

Usage: ``python -m bench.failover_time [--rounds N] [--faults KIND,...] [--writers W]
[--health-interval S] [--seed S] [--json-out [PATH]]`` (run from the repository root).

Starts its own 3-node cluster (gateway defaults: the health round every second, as a user runs
it), runs the writers and the open-loop prober of ``bench/lib/nemesis.py`` and injects each
leader fault ``--rounds`` times, round-robin: a SIGKILL of the leader's pid, a SIGSTOP of the
leader (SIGCONT after 1.5 s) and an isolation of the leader (healed after 1.5 s).  Prints one
line per fault kind: the write unavailability (fault -> the first acknowledged write issued
after it; nearest-rank p50 and max) and the election time (fault -> another node serves as
leader).  Goal (issue #24): every kind under 1.0 s.  The checker then compares every node's
``$all`` with what the writers were told; exits 1 on a violation.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
from pathlib import Path

from bench.lib.cluster import cluster_config, start_cluster
from bench.lib.machine import Steal, StealWatch
from bench.lib.nemesis import FaultRecord, Nemesis, Workload, converge
from bench.lib.percentiles import nearest_rank
from bench.lib.results import Figure, Results, add_json_out
from engine.client.checker import check_histories

LEADER_FAULTS = ("kill_leader_pid", "pause_leader", "isolate_leader")
GOAL_S = 1.0
_NAMES = {
    "kill_leader_pid": "kill -9 leader",
    "pause_leader": "SIGSTOP leader",
    "isolate_leader": "isolate leader",
}


def _figures(values: list[float]) -> tuple[float | None, float | None]:
    ordered = sorted(values)
    if not ordered:
        return None, None
    return round(nearest_rank(ordered, 0.5), 3), round(ordered[-1], 3)


def _ms(value: Figure) -> str:
    return f"{value * 1000:8.0f}" if isinstance(value, int | float) else f"{'-':>8}"


def kind_figures(kind: str, records: list[FaultRecord]) -> dict[str, Figure]:
    """The figures of one fault kind: rounds, unavailability and election p50/max, misses."""
    mine = [r for r in records if r.kind == kind]
    unavailable = [r.unavailable_s for r in mine if r.unavailable_s is not None]
    elections = [r.election_s for r in mine if r.election_s is not None]
    u50, umax = _figures(unavailable)
    e50, emax = _figures(elections)
    return {
        "rounds": len(mine),
        "unavailable_p50_s": u50,
        "unavailable_max_s": umax,
        "election_p50_s": e50,
        "election_max_s": emax,
        "no_ack": len(mine) - len(unavailable),
        "over_goal": sum(1 for v in unavailable if v >= GOAL_S),
    }


def print_table(kinds: list[str], figures: dict[str, dict[str, Figure]]) -> None:
    """One line per fault kind, in ms."""
    print()
    print(f"-- fault -> first acknowledged write issued after it (goal: under {GOAL_S:g} s)")
    print(
        f"{'fault':<16} {'rounds':>6} {'p50 ms':>8} {'max ms':>8}"
        f" {'elect p50':>9} {'elect max':>9} {'>= goal':>7}"
    )
    for kind in kinds:
        f = figures[kind]
        print(
            f"{_NAMES.get(kind, kind):<16} {f['rounds']:>6}"
            f" {_ms(f['unavailable_p50_s'])} {_ms(f['unavailable_max_s'])}"
            f" {_ms(f['election_p50_s'])} {_ms(f['election_max_s'])} "
            f"{f['over_goal']:>7}"
        )


async def run(directory: Path, args: argparse.Namespace, results: Results) -> bool:
    """Inject the faults; True when the checker found nothing wrong and every fault recovered."""
    extra = {"gateway": {"healthInterval": args.health_interval}}
    cluster = await start_cluster(directory, cluster_config(directory, 3, extra=extra))
    try:
        workload = Workload(
            cluster.url,
            token=cluster.config.security.admin_token,
            writers=args.writers,
            seed=args.seed,
        )
        workload.start()
        try:
            await workload.wait_acked(100, timeout=30)
            steals: dict[str, list[Steal]] = {}
            records: list[FaultRecord] = []
            async with Nemesis(
                cluster, workload, rng=random.Random(args.seed), log=lambda line: None
            ) as nemesis:
                for _ in range(args.rounds):
                    for kind in args.faults:
                        await asyncio.sleep(1.0)  # the writers in their stride again
                        with StealWatch() as steal:
                            record = await nemesis.inject(kind)
                        steals.setdefault(kind, []).append(steal.result)
                        records.append(record)
                        print(record.describe(), flush=True)
                conflicts = nemesis.history.conflicts()
        finally:
            await workload.stop()
        figures = {kind: kind_figures(kind, records) for kind in args.faults}
        print_table(args.faults, figures)
        for kind in args.faults:
            worst = max(steals[kind], key=lambda s: s.average)
            results.add(_NAMES.get(kind, kind), figures[kind], worst)
        histories = await converge(cluster, workload.attempts, timeout=60)
        verdict = check_histories(histories, workload.attempts)
        print(verdict.report())
        if conflicts:
            print(f"VIOLATION: two leaders in one term: {conflicts}")
        missed = sum(int(f["no_ack"] or 0) for f in figures.values())
        return verdict.ok and not conflicts and missed == 0
    finally:
        await cluster.embedded.stop()


def main() -> None:
    """Parse the arguments, measure, and exit 1 on a checker violation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each fault kind")
    parser.add_argument(
        "--faults",
        type=lambda text: text.split(","),
        default=list(LEADER_FAULTS),
        help=f"comma-separated kinds among {', '.join(LEADER_FAULTS)} (default: all)",
    )
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument(
        "--health-interval", type=float, default=1.0, help="gateway.healthInterval (seconds)"
    )
    parser.add_argument("--seed", type=int, default=1)
    add_json_out(parser, "failover_time")
    args = parser.parse_args()
    unknown = set(args.faults) - set(LEADER_FAULTS)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    directory = Path(tempfile.mkdtemp(prefix="gate-failover-"))
    results = Results("failover_time", args.json_out)
    ok = asyncio.run(run(directory, args, results))
    results.save()
    if ok:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        print(f"cluster directory: {directory} (logs: data/logs/node*.log, gateway.log)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

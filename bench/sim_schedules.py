"""The long version of the Raft simulation tests: run N seeded schedules and report.

    python -m bench.sim_schedules 20000            # seeds 0..19999
    python -m bench.sim_schedules 5000 --start 1e6 # seeds 1000000..1004999

Prints schedules per second, faults injected, elections and commits.  On a broken invariant it
stops and prints the violation, which names the seed and the pytest command that reruns it.
The simulator is ``bench/lib/simulation.py``, the one ``tests/replication/test_simulation.py``
runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

from bench.lib.machine import StealWatch
from bench.lib.results import Results, add_json_out
from bench.lib.simulation import SimStats, Simulation, Violation, draw_schedule


def main(argv: list[str] | None = None) -> int:
    """Run the schedules named on the command line; exit 1 on a violation."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("schedules", type=int, help="how many schedules to run")
    parser.add_argument("--start", type=float, default=0, help="first seed (default 0)")
    add_json_out(parser, "sim_schedules")
    args = parser.parse_args(argv)
    start = int(args.start)
    total = SimStats()
    began = time.perf_counter()
    status = 0
    with StealWatch() as steal:
        try:
            for seed in range(start, start + args.schedules):
                total.add(Simulation(draw_schedule(seed)).run())
                if total.schedules % 1000 == 0:
                    print(f"  {total.schedules} schedules...", flush=True)
        except Violation as violation:
            print(violation)
            status = 1
    elapsed = time.perf_counter() - began
    print(
        f"{total.schedules} schedules in {elapsed:.1f} s "
        f"({total.schedules / elapsed:.0f} schedules/s, {total.ticks} ticks)\n"
        f"faults injected: {total.faults} (dropped {total.dropped}, duplicated "
        f"{total.duplicated}, partitions {total.partitions}, crashes {total.crashes}, "
        f"slow-disk readies {total.slow_disk_readies}) of {total.messages} messages\n"
        f"elections: {total.elections}, entries committed: {total.commits}, "
        f"log compactions: {total.compactions}, snapshots installed: {total.snapshots}\n"
        f"members added: {total.members_added}, promoted: {total.promotions}, "
        f"removed: {total.members_removed} (told so on their return: {total.removed_told})"
    )
    results = Results("sim_schedules", args.json_out)
    figures = {
        "first_seed": start,
        "schedules_per_s": round(total.schedules / elapsed, 1),
        "violation": status,
        **asdict(total),
    }
    results.add(f"seeds from {start}", figures, steal.result)
    results.save()
    return status


if __name__ == "__main__":
    sys.exit(main())

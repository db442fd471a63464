"""The long version of the Raft simulation tests: run N seeded schedules and report.

    python bench/sim_schedules.py 20000            # seeds 0..19999
    python bench/sim_schedules.py 5000 --start 1e6 # seeds 1000000..1004999

Prints schedules per second, faults injected, elections and commits.  On a broken invariant it
stops and prints the violation, which names the seed and the pytest command that reruns it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# The harness lives with the tests; run from anywhere without installing them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.replication.simulation import SimStats, Simulation, Violation, draw_schedule


def main(argv: list[str] | None = None) -> int:
    """Run the schedules named on the command line; exit 1 on a violation."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("schedules", type=int, help="how many schedules to run")
    parser.add_argument("--start", type=float, default=0, help="first seed (default 0)")
    args = parser.parse_args(argv)
    start = int(args.start)
    total = SimStats()
    began = time.perf_counter()
    status = 0
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
        f"elections: {total.elections}, entries committed: {total.commits}"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())

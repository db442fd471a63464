"""What reading request bodies exactly and checking commands cost, per event (CPU, one core).

Usage: ``python -m bench.command_checks [--rounds N] [--json-out [PATH]]``.

For greenhouse appends of 1 and 100 events it times, best of 7 rounds:

- ``orjson.loads`` of the body, what the gateway paid before;
- ``loads_exact`` (engine/protocol/json_input.py): the same plus the checks for integers past
  64 bits and nesting deeper than 64 levels, over the raw bytes;
- ``check_command`` (engine/storage/check.py), which the gateway runs when it builds a command
  and the leader again when it is asked to propose it.

The checks exist so that no request can take a node down (docs/ENGINE.md, "Commands in the
log"); this says what they add to an append's CPU.
"""

from __future__ import annotations

import argparse
import itertools
import timeit
from collections.abc import Callable

import orjson

from bench.lib.machine import StealWatch
from bench.lib.results import Results, add_json_out
from engine.protocol.commands import build_append
from engine.protocol.json_input import loads_exact
from engine.storage.check import check_command

DATA = {"temperature": 21.5, "humidity": 40, "greenhouse_id": "gh-1", "note": 'a "quoted" [x]'}


def body(n: int) -> dict[str, object]:
    return {"events": [{"event_type": "temperature_measured:v1", "data": DATA}] * n}


def best_us(fn: Callable[[], object], number: int, rounds: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e6


def main() -> None:
    """Parse the options, time the three steps for 1 and 100 events, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per figure (best taken)")
    add_json_out(parser, "command_checks")
    args = parser.parse_args()
    results = Results("command_checks", args.json_out)
    ids = itertools.count()
    print(f"{'events':>6} {'orjson.loads':>13} {'loads_exact':>12} {'check_command':>14}  (µs)")
    for n in (1, 100):
        raw = orjson.dumps(body(n))
        cmd = build_append(
            "reg_gh",
            "greenhouse-1",
            body(n),
            now_epoch_us=1,
            new_id=lambda: str(next(ids)),
            max_events=10_000,
        )
        number = 20_000 // n

        def plain_loads(raw: bytes = raw) -> object:
            return orjson.loads(raw)

        def exact_loads(raw: bytes = raw) -> object:
            return loads_exact(raw)

        def check(cmd: dict[str, object] = cmd) -> object:
            return check_command(cmd, max_events=10_000)

        with StealWatch() as steal:
            plain = best_us(plain_loads, number, args.rounds)
            exact = best_us(exact_loads, number, args.rounds)
            checked = best_us(check, number, args.rounds)
        print(f"{n:>6} {plain:>13.1f} {exact:>12.1f} {checked:>14.1f}")
        print(
            f"{'':>6} per event: loads_exact adds {(exact - plain) / n:.2f} µs,"
            f" check_command {checked / n:.2f} µs (run twice per append)"
        )
        figures = {
            "orjson.loads us": round(plain, 2),
            "loads_exact us": round(exact, 2),
            "check_command us": round(checked, 2),
            "loads_exact extra cpu_us_per_event": round((exact - plain) / n, 3),
            "check_command cpu_us_per_event": round(checked / n, 3),
        }
        results.add(f"{n}-event append", figures, steal.result)
    results.save()


if __name__ == "__main__":
    main()

"""What ``gate-console --record`` and ``--replay`` cost (docs/CONSOLE.md, "--record and --replay").

1. Recording: every record of a recorded session is written again through the recorder's own
   methods (decoded first, as the live console holds them) ``--repeat`` times; the CPU per
   arrival of each kind (``time.process_time``) and the compressed bytes per arrival.  A
   recording of a lesson (``--recording tests/tui/recordings/lesson.gate.gz``) has its pane's
   records too.
2. Seeking back: the recording's records laid end to end until the session lasts ``--minutes``
   (each copy shifted by the recording's length), replayed headless at 120x36 in the real
   ``ReplayConsole``; going back from the end to just before it composes the panels again and
   plays every record from the first, which is timed (wall clock and this process's CPU,
   medians of ``--seeks``: a shared machine moves the first, much less the second).

    python -m bench.replay_cost [--recording FILE] [--repeat 200] [--minutes 1 5] [--seeks 3]
        [--json-out [PATH]]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from bench.lib.machine import StealWatch
from bench.lib.results import Results, add_json_out
from console.ops.lesson_view import LessonView, apply_change
from console.ops.recording import (
    Record,
    Recorder,
    Recording,
    decode_log,
    decode_sample,
    decode_trace,
    decode_verdict,
    read_recording,
)
from console.ops.replay import ReplayOps
from console.tui.replay import ReplayConsole

_ROOT = Path(__file__).resolve().parents[1]
DEFAULT = _ROOT / "tests" / "tui" / "recordings" / "failover.gate.gz"  # a file, not an import


class Writer:
    """Each arrival through the method the dashboard calls for it; the lesson pane's views
    rebuilt from the lesson records, as the pane hands them over whole."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.lesson: LessonView | None = None

    def write(self, record: Record) -> None:
        recorder, data = self.recorder, record.data
        match record.kind:
            case "health":
                recorder.health(decode_sample(data["sample"]))
            case "verdict":
                recorder.verdict(decode_verdict(data["verdict"]), bool(data["unreadable"]))
            case "trace":
                recorder.trace(decode_trace(data), int(data.get("missed") or 0))
            case "feed":
                recorder.feed((str(s), str(t)) for s, t in data["lines"])
            case "log":
                recorder.log(str(data["node"]), decode_log(data))
            case "note":
                recorder.note(str(data["when"]), list(data["lines"]))
            case "lesson":
                self.lesson = apply_change(self.lesson, data)
                recorder.lesson(self.lesson)
        recorder.flush()


def recording_cost(recording: Recording, repeat: int) -> dict[str, float]:
    cpu: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.gate.gz"
        recorder = Recorder(path, recording.header.nodes)
        writer = Writer(recorder)
        for _ in range(repeat):
            for record in recording.records:
                started = time.process_time()
                writer.write(record)
                cpu[record.kind] += time.process_time() - started
                count[record.kind] += 1
        recorder.close()
        size = path.stat().st_size
    total = sum(count.values())
    print(f"recording: {total:,} arrivals ({repeat} times the file's {len(recording.records)})")
    print("  kind       arrivals   CPU µs/arrival")
    for kind in sorted(count):
        print(f"  {kind:<9} {count[kind]:>9,}   {cpu[kind] / count[kind] * 1e6:>10.1f}")
    print(f"  all       {total:>9,}   {sum(cpu.values()) / total * 1e6:>10.1f}")
    per_second = total / (recording.duration * repeat)
    print(
        f"  file: {size / total:.0f} bytes per arrival compressed; this session's "
        f"{per_second:.1f} arrivals/s make {size / total * per_second * 60 / 1e3:.0f} kB a minute"
    )
    return {
        "arrivals": total,
        "cpu_us_per_arrival": round(sum(cpu.values()) / total * 1e6, 2),
        "bytes_per_arrival": round(size / total, 1),
    }


def tiled(recording: Recording, minutes: float) -> Recording:
    """The records end to end until the session lasts ``minutes``."""
    length = recording.duration + 0.5
    copies = max(1, round(minutes * 60 / length))
    records = tuple(
        replace(record, t=round(record.t + copy * length, 3))
        for copy in range(copies)
        for record in recording.records
    )
    return replace(recording, records=records)


async def seek_cost(path: Path, recording: Recording, seeks: int) -> tuple[float, float, int]:
    """The median wall and CPU seconds of going back from the end to just before it."""
    app = ReplayConsole(ReplayOps(path, recording), paused=True)
    times, cpu = [], []
    async with app.run_test(size=(120, 36)) as pilot:
        end = app.playback.duration
        for _ in range(seeks):
            await app.seek(end)
            await pilot.pause()
            started, used = time.perf_counter(), time.process_time()
            await app.seek(end - 0.001)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
            await pilot.pause()
    return statistics.median(times), statistics.median(cpu), len(recording.records)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_cost", description=__doc__)
    parser.add_argument("--recording", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--seeks", type=int, default=3)
    add_json_out(parser, "replay_cost")
    args = parser.parse_args()
    results = Results("replay_cost", args.json_out)
    recording = read_recording(args.recording)
    print(
        f"gate-console recording and replay: {args.recording.name}, "
        f"{len(recording.records)} records over {recording.duration:.1f} s\n"
    )
    with StealWatch() as steal:
        figures = recording_cost(recording, args.repeat)
    results.add(f"recording, {args.repeat} times", figures, steal.result)
    print("\nseeking back (the panels composed again, every record up to the target played):")
    print("  session   records   seek back ms (median)   of it CPU ms")
    for minutes in args.minutes:
        long = tiled(recording, minutes)
        with StealWatch() as steal:
            wall, cpu, records = asyncio.run(seek_cost(args.recording, long, args.seeks))
        print(f"  {minutes:>5g} min {records:>9,}   {wall * 1e3:>20.0f}   {cpu * 1e3:>12.0f}")
        seek = {
            "records": records,
            "seek_wall_ms": round(wall * 1e3),
            "seek_cpu_ms": round(cpu * 1e3),
        }
        results.add(f"seek back, {minutes:g} min", seek, steal.result)
    results.save()


if __name__ == "__main__":
    main()

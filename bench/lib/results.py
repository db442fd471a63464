"""Result records: one JSON line per scenario of a run, with what makes a figure comparable.

A record names the script and scenario, holds the figures (numbers and short strings), and says
where they were taken: the git commit, the machine, the CPU steal during the scenario and the UTC
time.  Scripts append their records to ``bench/results/<script>.jsonl`` (git ignores it) when
asked with ``--json-out``, so runs accumulate into a history that a few lines of Python compare.
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.lib.machine import Steal, machine_facts

RESULTS = Path(__file__).resolve().parents[1] / "results"
_REPOSITORY = Path(__file__).resolve().parents[2]

Figure = float | int | str | None


@dataclass(frozen=True, slots=True)
class Record:
    """The figures of one scenario of one run of a script, and where they were taken."""

    script: str
    scenario: str
    figures: dict[str, Figure]
    commit: str
    machine: dict[str, Any]
    steal: Steal
    time: str  # ISO 8601, UTC

    def to_json(self) -> bytes:
        """One line of JSON, without the newline."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: bytes | str) -> Record:
        """The record a ``to_json`` line holds; ValueError when it is not one."""
        try:
            raw = orjson.loads(line)
            return cls(
                script=str(raw["script"]),
                scenario=str(raw["scenario"]),
                figures=dict(raw["figures"]),
                commit=str(raw["commit"]),
                machine=dict(raw["machine"]),
                steal=Steal(float(raw["steal"]["average"]), float(raw["steal"]["worst"])),
                time=str(raw["time"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not a result record: {exc}") from exc


def git_commit() -> str:
    """The commit the benchmarked code is at, ``-dirty`` when the work tree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_REPOSITORY, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=_REPOSITORY,
            capture_output=True,
            text=True,
        )
    except OSError:  # no git on this machine
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def default_path(script: str) -> Path:
    """Where ``--json-out`` without a path writes the records of ``script``."""
    return RESULTS / f"{script}.jsonl"


def add_json_out(parser: argparse.ArgumentParser, script: str) -> None:
    """The ``--json-out [PATH]`` option: append this run's records as JSON lines."""
    parser.add_argument(
        "--json-out",
        nargs="?",
        type=Path,
        const=default_path(script),
        default=None,
        metavar="PATH",
        help=f"append result records as JSON lines to PATH (default {default_path(script)})",
    )


def write_records(path: Path, records: list[Record]) -> None:
    """Append ``records`` to ``path``, one JSON line each, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as f:
        for record in records:
            f.write(record.to_json() + b"\n")


def read_records(path: Path) -> list[Record]:
    """Every record in a JSON lines file, oldest first."""
    with path.open("rb") as f:
        return [Record.from_json(line) for line in f if line.strip()]


class Results:
    """The records of one run of a script, written at the end when ``path`` is set."""

    def __init__(self, script: str, path: Path | None) -> None:
        self.script = script
        self.path = path
        self.records: list[Record] = []
        self._commit = git_commit()

    def add(self, scenario: str, figures: Mapping[str, Figure], steal: Steal) -> Record:
        """Record the figures of one scenario, taken under ``steal``."""
        record = Record(
            script=self.script,
            scenario=scenario,
            figures=dict(figures),
            commit=self._commit,
            machine=machine_facts(),
            steal=steal,
            time=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.records.append(record)
        return record

    def save(self) -> None:
        """Append the run's records to ``path`` (if any) and say where they went."""
        if self.path is None:
            return
        write_records(self.path, self.records)
        print(f"results: {len(self.records)} record(s) appended to {self.path}")

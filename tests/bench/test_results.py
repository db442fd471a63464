"""Result records: JSON lines that round-trip, the ``--json-out`` option, the machine's steal."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import orjson
import pytest

from bench.lib.machine import Steal, StealWatch, machine_facts, steal_percent
from bench.lib.results import (
    Record,
    Results,
    add_json_out,
    default_path,
    git_commit,
    read_records,
    write_records,
)


def _record(scenario: str, **figures: float | int | str | None) -> Record:
    return Record(
        script="append_bench",
        scenario=scenario,
        figures=dict(figures),
        commit="0123abcd",
        machine={"cores": 2, "cpu_model": "AMD EPYC", "load": [0.5, 0.25, 0.1]},
        steal=Steal(0.4, 12.5),
        time="2026-12-06T14:00:00+00:00",
    )


def test_records_round_trip_through_json_lines(tmp_path: Path) -> None:
    first = _record("A", p50_ms=2.5, requests=1200, errors=0, note="ok", missing=None)
    second = _record("B", events_per_s=5906.0)
    path = tmp_path / "deep" / "append_bench.jsonl"
    write_records(path, [first])
    write_records(path, [second])  # appends: runs accumulate
    assert read_records(path) == [first, second]
    assert path.read_bytes().count(b"\n") == 2


def test_a_line_that_is_not_a_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a result record"):
        Record.from_json(b'{"script": "x"}')
    with pytest.raises(ValueError, match="not a result record"):
        Record.from_json(b"[1, 2")


def test_json_out_is_off_by_default_bare_goes_to_results_or_to_a_path(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_json_out(parser, "hop_floor")
    assert parser.parse_args([]).json_out is None
    assert parser.parse_args(["--json-out"]).json_out == default_path("hop_floor")
    assert default_path("hop_floor").parts[-3:] == ("bench", "results", "hop_floor.jsonl")
    assert parser.parse_args(["--json-out", str(tmp_path / "x.jsonl")]).json_out == (
        tmp_path / "x.jsonl"
    )


def test_results_name_the_commit_machine_and_time(tmp_path: Path) -> None:
    results = Results("store_apply", tmp_path / "out.jsonl")
    results.add("no sync", {"events": 20000}, Steal(0.0, 1.0))
    results.save()
    (record,) = read_records(tmp_path / "out.jsonl")
    assert record.script == "store_apply" and record.scenario == "no sync"
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", record.commit), record.commit
    assert record.commit == git_commit()
    assert record.machine["cores"] >= 1 and record.machine["cpu_model"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record.time)


def test_results_without_a_path_write_nothing(tmp_path: Path) -> None:
    results = Results("store_apply", None)
    results.add("no sync", {"events": 1}, Steal(0.0, 0.0))
    results.save()
    assert results.records and not list(tmp_path.iterdir())


def test_steal_is_the_stolen_share_of_the_ticks_between_samples() -> None:
    assert steal_percent((10, 1000), (15, 1100)) == 5.0
    assert steal_percent((10, 1000), (10, 1000)) == 0.0  # no time passed: nothing stolen
    with StealWatch(window=0.01) as watch:
        sum(range(200_000))
    assert 0.0 <= watch.result.average <= watch.result.worst + 1e-9 <= 100.0 + 1e-9


def test_machine_facts_are_json_ready() -> None:
    facts = machine_facts()
    assert set(facts) == {"cores", "cpu_model", "system", "python", "load"}
    assert orjson.loads(orjson.dumps(facts))["cores"] == facts["cores"]

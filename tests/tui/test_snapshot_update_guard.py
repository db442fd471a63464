"""The root conftest.py refuses ``--snapshot-update`` on part of a test file, which would delete
the snapshots of the parametrized cases it leaves out (a syrupy behaviour)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import subset_selected

ROOT = Path(__file__).resolve().parents[2]
PARAMETRIZED = """
import pytest

@pytest.mark.parametrize("n", [1, 2, 3])
def test_number(snapshot, n):
    assert snapshot == n * 10
"""


@pytest.mark.parametrize(
    ("args", "keyword", "deselected", "last_failed", "said"),
    [
        (["tests/tui/test_layout.py"], "", [], False, None),
        (["tests/tui"], "", [], False, None),
        ([], "", [], False, None),
        (["tests/tui/test_layout.py"], "notice", [], False, "-k 'notice'"),
        (["tests/tui/test_layout.py::test_size_notice"], "", [], False, "the node id"),
        (["tests/tui/test_layout.py"], "", ["tests/tui/test_layout.py::x"], False, "--deselect"),
        (["tests/tui"], "", [], True, "--lf"),
    ],
)
def test_what_picks_tests_out_of_their_files(
    args: list[str], keyword: str, deselected: list[str], last_failed: bool, said: str | None
) -> None:
    found = subset_selected(args, keyword, deselected, last_failed)
    assert found == said if said is None else (found or "").startswith(said)


def pytest_run(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_update_of_part_of_a_file_stops_with_one_line(tmp_path: Path) -> None:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_numbers.py").write_text(PARAMETRIZED)
    made = pytest_run(tmp_path, "test_numbers.py", "--snapshot-update")
    assert made.returncode == 0, made.stdout + made.stderr
    stored = tmp_path / "__snapshots__" / "test_numbers.ambr"
    before = stored.read_text()
    assert all(f"test_number[{n}]" in before for n in (1, 2, 3))

    for subset in (["-k", "number and 1"], ["test_numbers.py::test_number[2]"]):
        refused = pytest_run(tmp_path, "test_numbers.py", *subset, "--snapshot-update")
        assert refused.returncode == pytest.ExitCode.USAGE_ERROR
        lines = [line for line in (refused.stdout + refused.stderr).splitlines() if line]
        assert len(lines) == 1 and lines[0].startswith("ERROR: --snapshot-update with ")
        assert "update by file" in lines[0]
        assert stored.read_text() == before  # nothing deleted

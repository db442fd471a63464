"""Root pytest configuration: where the UI snapshots live, and a guard on updating them.

pytest-textual-snapshot stores each SVG through syrupy's single-file extension, which by
default puts it in ``__snapshots__/<test module>/`` next to the test.  The project keeps them in
the top-level ``snapshots/<test module>/`` folder instead (docs/ARCHITECTURE.md), so the extension's
``dirname`` is overridden here, before any test asks for ``snap_compare``.  Syrupy still finds
unused snapshots, because it matches a snapshot to its module by the folder's name.

That search is also why ``--snapshot-update`` must see whole test files: run with ``-k`` or node
ids, it takes the snapshots of the parametrized cases it left out for unused and deletes them.
Such a run stops before collecting anything, with one line that says to update by file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy.location import PyTestLocation

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _snapshot_dirname(cls: type[SVGImageExtension], *, test_location: PyTestLocation) -> str:
    """``snapshots/<test module>/`` at the project root."""
    return str(SNAPSHOTS / test_location.basename)


# snap_compare picks the extension class by name from its module, so the class itself is patched.
SVGImageExtension.dirname = classmethod(_snapshot_dirname)  # type: ignore[method-assign,assignment]


def subset_selected(
    args: Sequence[str], keyword: str, deselected: Sequence[str], last_failed: bool
) -> str | None:
    """What in a run's options picks tests out of their files, in words; None if nothing."""
    node_ids = [arg for arg in args if "::" in arg]
    if keyword:
        return f"-k {keyword!r}"
    if node_ids:
        return f"the node id {node_ids[0]}"
    if deselected:
        return "--deselect"
    return "--lf" if last_failed else None


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("update_snapshots", default=False):
        return
    subset = subset_selected(
        config.args,
        config.getoption("keyword", default=""),
        config.getoption("deselect", default=None) or [],
        bool(config.getoption("lf", default=False)),
    )
    if subset is not None:
        raise pytest.UsageError(
            f"--snapshot-update with {subset} deletes the snapshots of the tests it leaves out:"
            " update by file, e.g. pytest tests/tui/test_layout.py --snapshot-update"
        )

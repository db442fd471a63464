"""Root pytest configuration: where the UI snapshots live.

pytest-textual-snapshot stores each SVG through syrupy's single-file extension, which by
default puts it in ``__snapshots__/<test module>/`` next to the test.  The project keeps them in
the top-level ``snapshots/<test module>/`` folder instead (docs/ARCHITECTURE.md), so the extension's
``dirname`` is overridden here, before any test asks for ``snap_compare``.  Syrupy still finds
unused snapshots, because it matches a snapshot to its module by the folder's name.
"""

from __future__ import annotations

from pathlib import Path

from pytest_textual_snapshot import SVGImageExtension
from syrupy.location import PyTestLocation

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _snapshot_dirname(cls: type[SVGImageExtension], *, test_location: PyTestLocation) -> str:
    """``snapshots/<test module>/`` at the project root."""
    return str(SNAPSHOTS / test_location.basename)


# snap_compare picks the extension class by name from its module, so the class itself is patched.
SVGImageExtension.dirname = classmethod(_snapshot_dirname)  # type: ignore[method-assign,assignment]

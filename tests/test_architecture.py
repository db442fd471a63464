"""Project-wide rules checked on every run: layer boundaries and lint."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    # console -> domain -> engine; the engine stays headless; the domain uses engine.client only.
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extras"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    exe = shutil.which("ruff")
    assert exe, "ruff is part of the test extras"
    result = subprocess.run([exe, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

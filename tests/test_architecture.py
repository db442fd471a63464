"""Project-wide rules checked on every run: layer boundaries and lint."""

from __future__ import annotations

import os
import re
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


def test_mypy_is_clean() -> None:
    # [tool.mypy] in pyproject.toml names the packages; the cache makes a rerun quick.
    exe = shutil.which("mypy")
    assert exe, "mypy is part of the test extras"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# The documents every file may cite, all in the repository: a clone has what the code refers to.
DOCUMENTS = ("API", "ARCHITECTURE", "CONSOLE", "GREENHOUSE", "ENGINE")
_CITED = re.compile(rf"(?:[\w./-]*/)?(?:{'|'.join(DOCUMENTS)})\.md")
_OUTSIDE = re.compile(r"(?:\.\.|/work)/shared/")
_SKIPPED = {"__pycache__", "data"}
_TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".tcss"}


def _project_text_files() -> list[Path]:
    files: list[Path] = []
    for folder, subfolders, names in os.walk(ROOT):
        # Hidden folders (.git, caches) and nodes' data are not the project's text.
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in _SKIPPED]
        files += (Path(folder, n) for n in names if Path(n).suffix in _TEXT_SUFFIXES)
    return files


def test_documents_are_cited_inside_the_repository() -> None:
    wrong: list[str] = []
    for path in _project_text_files():
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        if _OUTSIDE.search(text):
            wrong.append(f"{where}: cites the shared documents outside the repository")
        for match in _CITED.finditer(text):
            cited = match.group()
            if not cited.startswith("docs/") or not (ROOT / cited).is_file():
                wrong.append(f"{where}: {cited!r} (cite docs/<NAME>.md, and it must exist)")
    assert not wrong, "\n".join(wrong)

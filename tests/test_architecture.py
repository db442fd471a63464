"""Project-wide rules checked on every run: layer boundaries and lint."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    # console -> domain -> engine; the engine stays headless; the domain uses engine.client only.
    # Through this interpreter, so the check runs in any venv, activated or not.
    program = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    result = _run("-c", program)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = _run("-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    # [tool.mypy] in pyproject.toml names the packages; the cache makes a rerun quick.
    result = _run("-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)


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

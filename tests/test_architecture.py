"""Project-wide rules checked on every run: layer boundaries and lint."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    # console -> domain -> engine; the engine stays headless; the front ends use engine.client;
    # inside the engine, gateway | node | client -> storage -> replication | transport -> protocol.
    # Through this interpreter, so the check runs in any venv, activated or not.
    program = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    result = _run("-c", program)
    assert result.returncode == 0, result.stdout + result.stderr


def _cycles(graph: grimp.ImportGraph, names: list[str], *, as_packages: bool) -> list[str]:
    """Every pair of ``names`` that import each other, directly or through other modules."""
    return [
        f"{a} <-> {b}"
        for a, b in combinations(names, 2)
        if graph.chain_exists(a, b, as_packages=as_packages)
        and graph.chain_exists(b, a, as_packages=as_packages)
    ]


def _engine_graph() -> grimp.ImportGraph:
    # This checkout's engine, not an installed copy of another one.
    assert str(importlib.util.find_spec("engine").origin).startswith(str(ROOT))
    # Imports under TYPE_CHECKING count: a cycle of annotations is a cycle a reader follows too.
    return grimp.build_graph("engine", cache_dir=None)


def test_no_two_engine_files_import_each_other() -> None:
    graph = _engine_graph()
    files = sorted(m for m in graph.modules if m != "engine")
    assert _cycles(graph, files, as_packages=False) == []


def test_no_two_engine_folders_import_each_other() -> None:
    graph = _engine_graph()
    folders = sorted(graph.find_children("engine"))
    assert {"protocol", "transport", "storage", "node", "gateway"} <= {
        f.removeprefix("engine.") for f in folders
    }
    assert _cycles(graph, folders, as_packages=True) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    # The check above is only worth something if it finds a cycle that is there.
    graph = _engine_graph()
    graph.add_import(importer="engine.protocol.errors", imported="engine.gateway.app")
    assert "engine.gateway <-> engine.protocol" in _cycles(
        graph, sorted(graph.find_children("engine")), as_packages=True
    )
    assert "engine.gateway.app <-> engine.protocol.errors" in _cycles(
        graph, ["engine.gateway.app", "engine.protocol.errors"], as_packages=False
    )


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

"""Running ``gate-repl`` as a separate process in script mode (stdin from a file)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "examples" / "lessons"


@dataclass(frozen=True)
class ScriptRun:
    """What one run printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str


def _env(data_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GATE_AUTH_TOKEN")}
    env["XDG_DATA_HOME"] = str(data_home)  # history and log stay in the test's directory
    env["PYTHONPATH"] = str(ROOT)
    return env


async def run_script(
    args: list[str], stdin: Path | str, data_home: Path, timeout: float = 60.0
) -> ScriptRun:
    """Run ``python -m console.repl ARGS`` (what ``gate-repl`` runs) with ``stdin``."""

    def run() -> ScriptRun:
        source = stdin.read_text() if isinstance(stdin, Path) else stdin
        done = subprocess.run(
            [sys.executable, "-m", "console.repl", *args],
            input=source,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_env(data_home),
            cwd=data_home,
        )
        return ScriptRun(done.returncode, done.stdout, done.stderr)

    # A thread, so the event loop of the test (and its cluster fixtures) keeps running.
    return await asyncio.to_thread(run)


def assert_clean(run: ScriptRun) -> None:
    """Exit 0, plain text, no traceback, nothing on stderr."""
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert "\x1b" not in run.stdout, "script mode must not write escape sequences"
    assert "Traceback" not in run.stdout + run.stderr
    assert run.stderr == ""
    assert run.stdout.rstrip().endswith("✅ Console shut down successfully!")

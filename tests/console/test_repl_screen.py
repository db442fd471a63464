"""gate-repl on a small screen (issue #15, point 6): the menu fits 80x24 with every option, View
Stream's table folds its data instead of wrapping at 80 columns, and ↑ recalls the answers of
the same kind of question; the last through a real pty, as a person at a terminal would."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pexpect
from prompt_toolkit.data_structures import Size
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.utils import get_cwidth

from console.repl.menu import menu_lines, render_menu
from console.repl.printer import Printer
from console.repl.tables import fold, render_table
from tests.cluster_harness import RunningCluster
from tests.console.script_runs import ROOT

# Escape sequences (colours, cursor moves, bracketed paste…) and the carriage returns of a pty.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\r")
_OPTION = re.compile(r"\b(\d{1,2})\. ")
UP = "\x1b[A"


def _screen_text(columns: int, rows: int) -> list[str]:
    """The menu as a terminal of that size gets it, without its escape sequences."""
    written = io.StringIO()
    output = Vt100_Output(written, lambda: Size(rows=rows, columns=columns), term="xterm")
    render_menu(Printer(output=output))
    output.flush()
    return _ESCAPES.sub("", written.getvalue()).split("\n")[:-1]


def test_the_menu_fits_80x24_with_every_option() -> None:
    lines = _screen_text(80, 24)
    # The prompt and the toolbar take the last two rows.
    assert len(lines) <= 22, "\n".join(lines)
    assert max(get_cwidth(line) for line in lines) <= 80
    shown = sorted(int(n) for line in lines for n in _OPTION.findall(line))
    assert shown == list(range(1, 29))
    assert "📊 Observers:" in lines[1] and "🏭 Producers:" in lines[1]  # two columns


def test_a_tall_terminal_and_a_script_get_the_classic_menu() -> None:
    tall = _screen_text(120, 40)
    assert "  1. Create Observer by Stream" in tall and "🏭 Producers:" in tall
    assert len(tall) == len(menu_lines(None)) == 28
    plain = io.StringIO()
    render_menu(Printer(stream=plain))
    assert plain.getvalue().splitlines() == tall


def test_a_wide_column_folds_between_fields() -> None:
    data = '%{temperature: 20, operator: "John", humidity: 55, light: 300}'
    assert fold(data, 20) == [
        "%{temperature: 20,",
        'operator: "John",',
        "humidity: 55,",
        "light: 300}",
    ]
    assert fold("x" * 45, 20) == ["x" * 20, "x" * 20, "x" * 5]
    rows = [("v1", "12", "desired_temperature_set:v1", data, "13:54:15")]
    headers = ("Version", "Position", "Event type", "Data", "Created")
    lines = ["".join(text for _, text in line) for line in render_table(headers, rows)]
    assert len(lines) == 3 and data in lines[2]  # no width: nothing folds (a script)
    lines = [
        "".join(text for _, text in line)
        for line in render_table(headers, rows, width=79, folded=3)
    ]
    assert max(get_cwidth(line) for line in lines) <= 79
    assert len(lines) > 3 and lines[2].endswith("13:54:15")
    column = lines[0].index("Data")
    assert " ".join(line[column:].split("  ")[0] for line in lines[2:]) == data


def _clean(text: str) -> str:
    return _ESCAPES.sub("", text)


def test_at_80x24_through_a_pty(cluster: RunningCluster, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GATE_AUTH_TOKEN")}
    env.update(PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path), TERM="xterm")
    # No cursor-position request: pexpect does not answer one, and the prompt would wait for it.
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "console.repl", "--connect", cluster.url],
        env=env,
        cwd=str(tmp_path),
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=30,
    )
    try:

        def answer(prompt: str, text: str) -> str:
            """What was printed before ``prompt``, then ``text`` typed at it."""
            child.expect_exact(prompt.rstrip())  # a terminal is not sent the trailing space
            before = _clean(child.before)
            child.send(text + "\r")
            return before

        menu = answer("Select an option (1-28): ", "13")
        assert "📊 Observers:" in menu and "15. Exit Console" in menu
        menu_rows = menu.split("========== Gate Interactive Console ==========")[1].split("\n")
        assert len(menu_rows) <= 22, menu
        answer("Enter stream name: ", "pty-1")
        answer("Number of events to append (default 5): ", "3")
        answer("Select an option (1-28): ", "13")
        answer("Enter stream name: ", "pty-1")
        answer("Number of events to append (default 5): ", "")  # 5 more: v3 to v7
        answer("Select an option (1-28): ", "12")
        # ↑ recalls the last stream typed, and at the count the last count: not each other's.
        answer("Enter stream name: ", UP)
        answer("Number of events to fetch (default 10): ", UP)
        table = answer("Select an option (1-28): ", "\x04")  # Ctrl+D exits
        assert "📄 Events from 'pty-1' (version 7):" in table, table
        rows = [line for line in table.split("\n") if re.match(r"v\d+ ", line)]
        assert [row.split()[0] for row in rows] == ["v0", "v1", "v2"], table
        assert max(get_cwidth(line) for line in table.split("\n")) <= 80
        child.expect_exact("Console shut down successfully!")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert sorted(p.name for p in (tmp_path / "gate" / "history").iterdir()) == [
        "count",
        "menu",
        "stream",
    ]

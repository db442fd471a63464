"""gate-repl on a small screen (issue #15, point 6): the menu fits 80x24 with every option, the
first screen keeps the banner above it, View Stream's table folds its data instead of wrapping
at 80 columns, and ↑ recalls the answers of the same kind of question; the last two through a
real pty, as a person at a terminal would (the first read by a terminal emulator, pyte)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pexpect
import pyte
import pytest
from prompt_toolkit.data_structures import Size
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.utils import get_cwidth

from console.ops.catalogue import CATALOGUE, EVERYTHING, NUMBERED, Offer, operation
from console.repl.menu import LAST, PROMPT, menu_lines, render_menu
from console.repl.printer import Printer
from console.repl.tables import fold, render_table
from console.tui.requests import role_allows
from tests.cluster_harness import RunningCluster, cluster_config, write_config
from tests.console.script_runs import ROOT

# Escape sequences (colours, cursor moves, bracketed paste…) and the carriage returns of a pty.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\r")
_OPTION = re.compile(r"\b(\d{1,2})\. ")
UP = "\x1b[A"


def _screen_text(columns: int, rows: int, offer: Offer = EVERYTHING) -> list[str]:
    """The menu as a terminal of that size gets it, without its escape sequences."""
    return _ESCAPES.sub("", _screen(columns, rows, offer)).split("\n")[:-1]


def _screen(columns: int, rows: int, offer: Offer = EVERYTHING) -> str:
    written = io.StringIO()
    output = Vt100_Output(written, lambda: Size(rows=rows, columns=columns), term="xterm")
    render_menu(Printer(output=output), offer=offer)
    output.flush()
    return written.getvalue()


def test_the_menu_fits_80x24_with_every_option() -> None:
    lines = _screen_text(80, 24)
    # The prompt and the toolbar take the last two rows.
    assert len(lines) <= 22, "\n".join(lines)
    assert max(get_cwidth(line) for line in lines) <= 80
    shown = sorted(int(n) for line in lines for n in _OPTION.findall(line))
    assert shown == list(range(1, LAST + 1))
    assert "📊 Observers:" in lines[1] and "🏭 Producers:" in lines[1]  # two columns


def test_a_tall_terminal_and_a_script_get_the_classic_menu() -> None:
    tall = _screen_text(120, 40)
    assert "  1. Create Observer by Stream" in tall and "🏭 Producers:" in tall
    assert len(tall) == len(menu_lines(None)) == 30
    plain = io.StringIO()
    render_menu(Printer(stream=plain))
    assert plain.getvalue().splitlines() == tall


# A cluster view's ``unsupported`` as a JetStream gateway lists it (docs/API.md), but for
# ``transfer``, which it has.
JETSTREAM = Offer("JetStream", ("node_log", "membership", "isolate", "links", "tempo", "trace"))
NOT_ON_JETSTREAM = {28, 30, 31, 32, 33, 34, 35, 36}  # node log … message trace


def menu_options(lines: list[str]) -> tuple[list[int], set[int]]:
    """The option numbers shown, and those marked as not offered (``✗`` after the title)."""
    cells = [cell for line in lines for cell in re.split(r"\s{2,}", line.strip())]
    options = [(int(m[1]), m[2]) for cell in cells if (m := re.match(r"(\d{1,2})\. (.+)", cell))]
    return sorted(n for n, _ in options), {n for n, title in options if title.endswith(" ✗")}


def test_what_the_backend_lacks_keeps_its_number_dimmed_and_marked() -> None:
    """A fake ``unsupported`` list: the menu still lists 1 to 36, number for number with
    ExESDB's, marks the options it names, and says what the mark means; the dashboard hides
    the keys of the same operations (one ``Offer``)."""
    plain = io.StringIO()
    render_menu(Printer(stream=plain), offer=JETSTREAM)
    lines = plain.getvalue().splitlines()
    assert len(lines) == 30
    shown, marked = menu_options(lines)
    assert shown == list(range(1, LAST + 1)) and marked == NOT_ON_JETSTREAM
    assert "🧪 Cluster Lab: (✗ not on JetStream)" in lines
    assert "  28. Node Log ✗          29. Transfer Leadership      30. Isolate Node ✗" in lines
    assert marked == {n for n, op in NUMBERED.items() if not JETSTREAM.offers(op)}
    dashboard = SimpleNamespace(app=SimpleNamespace(role="admin", offer=JETSTREAM))
    keys = {op.name: role_allows(dashboard, "request", (op.name,)) for op in CATALOGUE if op.keys}
    assert not keys["isolate_node"] and not keys["tempo_slower"] and keys["transfer_leader"]
    assert keys == {name: JETSTREAM.offers(operation(name)) for name in keys}
    # Gate's own backend (and a console before its first cluster view) marks nothing.
    everything = io.StringIO()
    render_menu(Printer(stream=everything))
    assert "✗" not in everything.getvalue()
    # At 80x24: still every option in 22 rows, the marked ones dimmed (the hint's grey).
    small = _screen_text(80, 24, JETSTREAM)
    assert len(small) <= 22 and max(get_cwidth(line) for line in small) <= 80, small
    assert menu_options(small) == (list(range(1, LAST + 1)), NOT_ON_JETSTREAM)
    assert any(line.endswith("🧪 Cluster Lab: (✗ not on JetStream)") for line in small)
    styled = _screen(80, 24, JETSTREAM)
    for number in NOT_ON_JETSTREAM:
        title = f"{number}. {NUMBERED[number].title} ✗"
        assert f"\x1b[0;90m{title}\x1b[0m" in styled, title
    assert "\x1b[0;90m29." not in styled and "29. Transfer Leadership" in styled


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

        menu = answer(PROMPT, "13")
        assert "📊 Observers:" in menu and "15. Exit Console" in menu
        menu_rows = menu.split("========== Gate Interactive Console ==========")[1].split("\n")
        assert len(menu_rows) <= 22, menu
        answer("Enter stream name: ", "pty-1")
        answer("Number of events to append (default 5): ", "3")
        answer(PROMPT, "13")
        answer("Enter stream name: ", "pty-1")
        answer("Number of events to append (default 5): ", "")  # 5 more: v3 to v7
        answer(PROMPT, "12")
        # ↑ recalls the last stream typed, and at the count the last count: not each other's.
        answer("Enter stream name: ", UP)
        answer("Number of events to fetch (default 10): ", UP)
        table = answer(PROMPT, "\x04")  # Ctrl+D exits
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


class _Terminal(pyte.Screen):
    """An 80x24 terminal emulator that answers the child's questions (its cursor position, which
    prompt_toolkit asks before it draws the bottom toolbar), as a real terminal does."""

    def __init__(self, child: pexpect.spawn) -> None:
        super().__init__(80, 24)
        self.child = child

    def write_process_input(self, data: str) -> None:
        self.child.send(data)


def _watch(screen: _Terminal, shows: str, timeout: float = 30) -> None:
    """Feed the child's output to the emulated terminal until some row shows ``shows``."""
    child, terminal = screen.child, pyte.Stream(screen)
    deadline = time.monotonic() + timeout
    while not any(shows in row for row in screen.display):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {shows!r} on the screen:\n" + "\n".join(screen.display))
        with contextlib.suppress(pexpect.TIMEOUT):
            terminal.feed(child.read_nonblocking(4096, timeout=0.2))


@pytest.mark.slow  # it starts its own cluster, as gate-repl does without --connect
def test_the_first_screen_at_80x24_keeps_the_banner(tmp_path: Path) -> None:
    """Started in a fresh directory, the console's first screen shows, in 24 rows: the banner
    (which says the console started the cluster), every option, the prompt and the toolbar.
    The "Starting the cluster" line, shown while the cluster starts, has scrolled away above:
    the lab's 20 options take 7 rows."""
    config = write_config(tmp_path, cluster_config(tmp_path))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GATE_AUTH_TOKEN")}
    env.update(PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path), TERM="xterm")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "console.repl", "--config", str(config), "--clear"],
        env=env,
        cwd=str(tmp_path),
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=30,
    )
    screen = _Terminal(child)
    try:
        _watch(screen, "nodes up")  # the toolbar, drawn after the prompt
        rows = [row.rstrip() for row in screen.display]
        assert rows[0] == "🚀 Gate Interactive Console started", rows
        assert rows[1].startswith("Store: reg_gh · Gateway: http://127.0.0.1:")
        assert rows[1].endswith("(started by this console)")
        assert rows[3] == "========== Gate Interactive Console =========="
        shown = sorted(int(n) for row in rows for n in _OPTION.findall(row))
        assert shown == list(range(1, LAST + 1))
        prompt = next(n for n, row in enumerate(rows) if PROMPT.strip() in row)
        assert prompt == 22  # the lab heading sits beside option 14
        assert "3/3 nodes up" in rows[23]
        child.send("15\r")
        child.expect_exact("Console shut down successfully!")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0

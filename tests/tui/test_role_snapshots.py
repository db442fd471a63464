"""gate-console with a token's role: the header names it, keys and palette hide what it may not do.

The SVGs in ``snapshots/test_role_snapshots/`` were rendered to PNG and looked at.
"""

from __future__ import annotations

from typing import Any

from console.ops.catalogue import CATALOGUE
from console.ops.session import Access
from console.tui.app import GateConsole
from console.tui.help import help_text
from console.tui.requests import request
from tests.tui.recorded import HEALTHY, RecordedOps
from tests.tui.test_snapshots import SMALL, WIDE, Compare, steps

READER = Access("student-7", "reader", "token")
WRITER = Access("lab-bench", "writer", "token")
READ_ONLY_ADMIN = Access("teacher", "reader", "token", read_only=True)


def console(access: Access) -> GateConsole:
    app = GateConsole(RecordedOps(HEALTHY, access=access).as_operations(), blink=False)
    app.animation_level = "none"
    return app


def test_reader_cluster_panel(snap_compare: Compare) -> None:
    """A reader: its name and role in the header, no node keys in the footer."""
    assert snap_compare(console(READER), run_before=steps(), terminal_size=WIDE)


def test_reader_cluster_panel_small_terminal(snap_compare: Compare) -> None:
    """The same at 80x24: the role before the gateway's address, which is cut first."""
    assert snap_compare(console(READER), run_before=steps(), terminal_size=SMALL)


def test_writer_subscriptions_small_terminal(snap_compare: Compare) -> None:
    """A writer keeps the subscription keys; the header says writer."""
    assert snap_compare(console(WRITER), run_before=steps("5"), terminal_size=SMALL)


def test_read_only_streams_small_terminal(snap_compare: Compare) -> None:
    """--read-only with an admin's token: no append keys on the streams panel."""
    assert snap_compare(console(READ_ONLY_ADMIN), run_before=steps("6"), terminal_size=SMALL)


async def test_a_reader_is_refused_in_one_line_and_nothing_runs() -> None:
    app = console(READER)
    ops: Any = app.ops
    async with app.run_test(size=WIDE) as pilot:
        await steps()(pilot)
        # The key is not bound for a reader: pressing it does nothing.
        await pilot.press("k")
        await pilot.pause()
        assert ops.cluster.actions == []
        # A request that comes anyway (an old palette entry) is one line, and runs nothing.
        app.post_message(request("node_kill", "node2"))
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert ops.cluster.actions == []
        refused = "Kill Node needs the admin role; this console runs as reader"
        assert app.last_message.endswith(refused)
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert not any(title.startswith(("Kill", "Stop node", "Append")) for title in commands)
        assert "Create Observer by Stream" in commands


def test_help_lists_only_what_the_role_may_do() -> None:
    reader_help = help_text("reader")
    assert "`k` kill" not in reader_help and "`n` by stream" in reader_help
    assert "`k` kill" in help_text("admin")
    denied = [op.name for op in CATALOGUE if not op.allowed("reader")]
    assert "node_kill" in denied and "append_events" in denied and "monitor" not in denied

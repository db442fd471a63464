"""One catalogue of operations (``console/ops/catalogue.py``) drives the menu shell's menu, the
dashboard's panel keys, its command palette and its help screen: each entry shows in every place
it belongs, with the same title and words."""

from __future__ import annotations

import io

from textual.binding import Binding
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import OptionList, TabbedContent

from console.ops.catalogue import CATALOGUE, EXIT, NUMBERED, Panel
from console.ops.cluster import parse_address
from console.repl.menu import PROMPT, render_menu
from console.repl.printer import Printer
from console.repl.shell import COMMANDS, HANDLERS
from console.tui.app import GateConsole
from console.tui.cluster.panel import ClusterPanel
from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.dialogs.form import FormDialog
from console.tui.help import help_text
from console.tui.observers.panel import ObserversPanel
from console.tui.producers.panel import ProducersPanel
from console.tui.streams.panel import StreamsPanel
from console.tui.subscriptions.panel import SubscriptionsPanel
from tests.tui.recorded import HEALTHY, RecordedOps
from tests.tui.test_live import until
from tests.tui.test_snapshots import settle

# The ExESDB console's menu, number for number: lessons and docs cite these numbers.
CLASSIC = (
    "Create Observer by Stream",
    "Create Observer by Event Type",
    "Create Observer by Event Payload",
    "List Active Observers",
    "Monitor Specific Observer",
    "Stop Observer",
    "Start Producers",
    "Stop Producer",
    "List Active Producers",
    "Create Subscription",
    "List Subscriptions",
    "View Stream Data",
    "Append Events Manually",
    "Get Cluster Status",
    "Exit Console",
)
PANELS: dict[Panel, type] = {
    "cluster": ClusterPanel,
    "observers": ObserversPanel,
    "producers": ProducersPanel,
    "subscriptions": SubscriptionsPanel,
    "streams": StreamsPanel,
}


def _bindings(owner: type) -> list[Binding]:
    return [b for b in owner.BINDINGS if isinstance(b, Binding)]


def test_the_menu_lists_every_numbered_entry_with_its_command() -> None:
    assert sorted(NUMBERED) == list(range(1, 36)) and EXIT == 15
    assert tuple(NUMBERED[n].title for n in range(1, 16)) == CLASSIC
    assert NUMBERED[28].title == "Node Log" and "(1-35)" in PROMPT
    menu = io.StringIO()
    render_menu(Printer(stream=menu))
    for number, entry in NUMBERED.items():
        assert f"{number}. {entry.title}" in menu.getvalue(), entry
    assert sorted(COMMANDS) == sorted(n for n in NUMBERED if n != EXIT)
    assert set(HANDLERS) == {entry.name for n, entry in NUMBERED.items() if n != EXIT}


def test_every_key_is_bound_on_its_panel_and_shown_in_the_help() -> None:
    help_lines = help_text().splitlines()
    keys = 0
    for entry in CATALOGUE:
        for key in entry.keys:
            keys += 1
            owner = GateConsole if key.panel is None else PANELS[key.panel]
            bound = [(b.key, b.action, b.description) for b in _bindings(owner)]
            assert (key.key, f"request('{entry.name}')", key.label) in bound, (entry.name, bound)
            if key.panel is None:  # the table of keys that work everywhere
                shown = f"| `{key.shown}` | {key.words} |"
                rows = [line for line in help_lines if line.startswith(f"| `{key.shown}` |")]
            else:
                shown = f"`{key.shown}` {key.words}"
                rows = [line for line in help_lines if line.startswith(f"| {key.panel.title()} |")]
            assert len(rows) == 1, (entry.name, rows)
            assert shown in rows[0], (entry.name, rows[0])
    assert keys == 35  # every panel's operations: a key lost from the catalogue fails here
    # The footers keep their order: the monitor key comes last on the Subscriptions panel.
    order = [b.key for b in _bindings(SubscriptionsPanel)]
    assert order == ["n", "d", "c", "a", "r", "m"]


async def test_the_palette_lists_the_entries_it_should_and_runs_them() -> None:
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(app)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for entry in CATALOGUE:
            if not entry.palette:
                assert entry.title not in commands, entry
            elif entry.target == "node":
                for node in HEALTHY.nodes:
                    assert entry.palette_title(node.node_id) in commands, entry
            else:
                assert entry.title in commands, entry
                assert commands[entry.title].help == entry.help
        # A palette entry runs the same operation as its key.
        commands["Create Observer by Stream"].callback()
        await pilot.pause()
        assert isinstance(app.screen, FormDialog)
        assert app.screen.title_text == "📊 Create Observer by Stream"
        await pilot.press("escape")
        commands["Kill node2"].callback()
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and app.screen.question == "Kill node2?"
        await pilot.press("y")
        await settle(app)
        assert recorded.cluster.actions == [("node2", "kill")]
        assert app.last_message.startswith("✅ Killed node2; leader ")
        # Partitions and leadership, by node, from the palette as from their keys.
        commands["Isolate node1"].callback()
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.screen.title_text == "✂ Isolate node1"
        await pilot.press("enter")  # every peer, both ways (the defaults)
        await settle(app)
        assert app.last_message == "✅ node1 isolated (the leader): it steps down (no quorum)"
        commands["Heal node1"].callback()
        await pilot.pause()
        await settle(app)
        healed = "✅ node1 healed: every Raft link back; it follows the leader again"
        assert app.last_message == healed
        commands["Transfer leadership to node3"].callback()
        await pilot.pause()
        await settle(app)
        assert app.last_message == "✅ node3 leads now (term 3): node1 handed over in 0.4 s"
        # Membership: the add dialog proposes the next id and ports; a removal is asked first.
        commands["Add Node"].callback()
        await pilot.pause()
        assert isinstance(app.screen, FormDialog)
        proposed = app.screen.values()
        # Past the members' ports (8092, 8892), skipping any taken on this machine.
        http, tcp = parse_address(proposed["http"]), parse_address(proposed["tcp"])
        assert proposed["node_id"] == "node4" and http[1] >= 8093 and tcp[1] >= 8893
        await pilot.press("enter")
        await settle(app)
        assert app.last_message == "✅ node4 joins as a learner (log index 1301)"
        commands["Remove node2 from the cluster"].callback()
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.question == "Remove node2 from the cluster?"
        await pilot.press("y")
        await settle(app)
        assert app.last_message == "✅ node2 removed (log index 1302); its data stays on disk"
        assert recorded.cluster.actions[1:] == [
            ("node1", "isolate all both"),
            ("node1", "heal"),
            ("node3", "transfer"),
            ("node4", f"add {proposed['http']} {proposed['tcp']}"),
            ("node2", "remove"),
        ]


async def _palette(pilot: Pilot[None], title: str) -> None:
    """Run a command palette entry as a person does: Ctrl+P, its title, Enter (once the
    palette, which searches in the background, lists it first)."""
    await pilot.press("ctrl+p", *title)

    def listed_first() -> bool:
        screen = pilot.app.screen
        if not isinstance(screen, CommandPalette):
            return False
        results = screen.query_one(OptionList)
        return results.option_count > 0 and title in str(results.get_option_at_index(0).prompt)

    await until(pilot, listed_first, f"the palette listing {title!r}")
    await pilot.press("enter")


async def test_an_operation_on_a_row_takes_the_selected_one_or_says_where_to_select() -> None:
    empty = GateConsole(RecordedOps(empty=True).as_operations(), blink=False)
    async with empty.run_test(size=(110, 32)) as pilot:
        await settle(empty)
        await _palette(pilot, "Stop Observer")
        await until(pilot, lambda: bool(empty.last_message), "the warning")
        assert empty.last_message == "⚠️  Select an observer in the Observers panel first"
        assert empty.query_one(TabbedContent).active == "observers"
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(app)
        await pilot.press("4")  # the Producers panel, its first row selected
        await _palette(pilot, "Stop Producer")
        await until(pilot, lambda: bool(app.last_message), "the outcome")
        assert app.last_message == "✅ Producer for 'greenhouse-1' stopped"
        assert recorded.producers.rows()[0].state == "stopped"


async def test_the_slow_motion_dialog_proposes_the_menu_s_default_and_says_the_tempo_now() -> None:
    """As option 34 asks: 20 times slower by default (not the tempo now, which OK would only
    set again), with the tempo now above the question."""
    app = GateConsole(RecordedOps().as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(app)
        await _palette(pilot, "Slow Motion")
        await until(pilot, lambda: isinstance(app.screen, FormDialog), "the dialog")
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        assert dialog.values() == {"scale": "20"}
        assert dialog.hint is not None and dialog.hint.startswith("Now tempo ×1 (full speed)")


async def test_a_console_attached_to_a_running_cluster_says_it_did_not_start_it() -> None:
    """`gate-console --connect`: a room must not think Ctrl+Q stops the cluster; a console
    that started its own says nothing (its cluster goes with it, as the docs say)."""
    attached = RecordedOps()
    attached.started_engine = False
    app = GateConsole(attached.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(app)
        await until(pilot, lambda: bool(app.last_message), "the toast")
        assert app.last_message == (
            f"✅ Attached to the cluster at {attached.url}, which this console did not start: "
            "Ctrl+Q leaves it running"
        )
    started = GateConsole(RecordedOps().as_operations(), blink=False)
    async with started.run_test(size=(110, 32)):
        await settle(started)
        assert not started.last_message


def test_the_help_gives_question_mark_ctrl_p_and_ctrl_q_a_row_each() -> None:
    """In one row their key column folded at 80 columns and left a lone "·" on a line."""
    help_lines = help_text().splitlines()
    for row in (
        "| `?` | this help |",
        "| `Ctrl+P` | the command palette: every operation |",
        "| `Ctrl+Q` | quit (stops what this console started) |",
    ):
        assert row in help_lines

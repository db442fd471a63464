"""gate-console at its minimum size, 80x24 (issue #15, point 6): every panel and question drawn
whole, ``? Help`` in every footer, columns that widen, long feed lines wrapped, and a centred
notice below the minimum that goes away when the terminal grows.

The snapshots come from recorded, fixed data (tests/tui/recorded.py), as in test_snapshots.py,
whose create dialogs are already drawn at 80x24; each SVG here was rendered to PNG and looked at.
"""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.compose import compose
from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog, Static, TabbedContent, TabPane
from textual.widgets._footer import FooterKey

from console.ops.cluster import HealthSample
from console.tui.cluster.panel import RewrappingLog
from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.feed.lines import FeedLine
from console.tui.feed.panel import FeedPanel
from console.tui.footer import GateFooter
from console.tui.size_notice import MIN_SIZE, SizeNotice
from console.tui.status_bar import status_text
from console.tui.streams.panel import COLUMNS, NARROW_COLUMNS, fill_events
from console.tui.subscriptions.panel import SubscriptionsPanel
from console.tui.table_sync import sync_table
from tests.tui.recorded import HEALTHY, URL
from tests.tui.test_snapshots import Compare, console, steps

SMALL = (MIN_SIZE.width, MIN_SIZE.height)
LARGE = (120, 36)
PANEL_KEYS = {
    "cluster": (),
    "feed": ("2",),
    "observers": ("3",),
    "producers": ("4",),
    "subscriptions": ("5",),
    "streams": ("6",),
    "messages": ("7",),
}


@pytest.mark.parametrize(
    "keys",
    [
        *(pytest.param(keys, id=panel) for panel, keys in PANEL_KEYS.items()),
        pytest.param(("question_mark",), id="help"),
        pytest.param(("ctrl+p", *"kill"), id="command_palette"),
        pytest.param(("6", "g"), id="greenhouse"),
    ],
)
def test_at_80x24(snap_compare: Compare, keys: tuple[str, ...]) -> None:
    """Each panel, the help, the palette and the greenhouse view at the minimum size."""
    assert snap_compare(console(), run_before=steps(*keys), terminal_size=SMALL)


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(("s",), id="stop_node"),
        pytest.param(("k",), id="kill_node"),
        pytest.param(("5", "d"), id="delete_subscription"),
    ],
)
def test_confirm_at_80x24(snap_compare: Compare, keys: tuple[str, ...]) -> None:
    """The questions before what cannot be undone, at the minimum size."""

    async def run(pilot: Pilot[Any]) -> None:
        await steps()(pilot)
        await pilot.press(*keys)  # its worker waits for the answer: no wait_for_complete here
        for _ in range(3):
            await pilot.pause()
        assert isinstance(pilot.app.screen, ConfirmDialog)

    assert snap_compare(console(), run_before=run, terminal_size=SMALL)


def test_size_notice(snap_compare: Compare) -> None:
    """Below 80x24 a centred notice names the size needed."""
    assert snap_compare(console(), run_before=steps(), terminal_size=(40, 12))


@pytest.mark.parametrize("panel", list(PANEL_KEYS))
async def test_every_footer_shows_help_at_80_columns(panel: str) -> None:
    app = console()
    async with app.run_test(size=SMALL) as pilot:
        await steps(*PANEL_KEYS[panel])(pilot)
        keys = {key.key: key for key in app.screen.query(FooterKey)}
        help_key = keys["question_mark"]
        assert help_key.region.right <= SMALL[0]
        assert "Help" in str(help_key.render())
        # No panel key hides under the pinned keys: they all end left of ``? Help``.
        others = [key for name, key in keys.items() if name not in ("question_mark", "ctrl+p")]
        assert others
        assert all(key.region.right < help_key.region.x for key in others)


async def test_a_footer_composed_again_before_its_old_keys_are_gone_does_not_crash() -> None:
    """Found by the monkey (tests/tui/test_monkey.py): Textual recomposes the footer on every
    change of bindings, and waits only for old keys whose message loops have started, so new
    keys can be mounted while old ones are still attached.  A pinned group with an id then
    crashed the app (``DuplicateIds: 'pinned-keys'``)."""
    app = console()
    async with app.run_test(size=SMALL) as pilot:
        await steps()(pilot)
        footer = app.query_one(GateFooter)
        with footer._context():  # compose() binds the keys to the footer it runs in
            await footer.mount_all(compose(footer))  # the new keys beside the old ones
            await pilot.pause()
            assert app._exception is None and app.is_running
            await footer.recompose()  # the next change of bindings tidies up
        await pilot.pause()
        assert len(footer.query(".pinned-keys")) == 1
        assert [key.key for key in footer.query(".pinned-keys FooterKey")] == [
            "question_mark",
            "ctrl+p",
        ]


async def test_the_notice_comes_and_goes_with_the_terminal_size() -> None:
    app = console()
    async with app.run_test(size=(40, 12)) as pilot:
        await steps()(pilot)
        assert isinstance(app.screen, SizeNotice)
        said = str(app.screen.query_one("#size-notice", Static).render())
        assert "at least 80×24" in said and "This one is 40×12" in said
        await pilot.press("question_mark", "5")  # the app's keys wait meanwhile
        assert isinstance(app.screen, SizeNotice)
        assert app.query_one("TabbedContent").active == "cluster"  # type: ignore[attr-defined]

        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert not isinstance(app.screen, SizeNotice)
        await pilot.press("4", "n")  # a dialog open, then the terminal shrinks and grows
        await pilot.pause()
        dialog = app.screen
        await pilot.resize_terminal(79, 24)
        await pilot.pause()
        assert isinstance(app.screen, SizeNotice)
        said = str(app.screen.query_one("#size-notice", Static).render())
        assert "This one is 79×24" in said
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        assert app.screen is dialog


def test_the_header_starts_with_the_leader() -> None:
    """A narrow terminal cuts the gateway's address at the end, not the leader's name."""
    line = status_text(
        HealthSample(taken_at=0.0, status=HEALTHY, events_per_second=2.0, error=None), URL
    )
    assert line.plain.startswith("leader node1 · term 3 · 3/3 up")
    assert line.plain.endswith("127.0.0.1:8899")


async def test_a_grown_cell_widens_its_column() -> None:
    """A rate going from 5.0/s to 15.0/s is shown whole, not cut to ``15.0/``."""
    app = console()
    async with app.run_test(size=SMALL) as pilot:
        table = app.query_one("#observers-panel DataTable", DataTable)
        sync_table(table, [("a", ["✓", "a", "1", "5.0/s", "0", "running", "$all"])])
        await pilot.pause()
        sync_table(table, [("a", ["✓", "a", "1", "15.0/s", "0", "running", "$all"])])
        await pilot.pause()
        rate = list(table.columns.values())[3]
        assert rate.get_render_width(table) - 2 * table.cell_padding >= len("15.0/s")


async def test_long_feed_lines_wrap_under_a_whole_source_name() -> None:
    app = console(empty=True)
    async with app.run_test(size=SMALL) as pilot:
        await steps("2")(pilot)
        panel = app.query_one(FeedPanel)
        source = "a_rather_long_observer_name"
        text = "SEEN [" + "x" * 150 + "]"
        panel.add_lines([FeedLine(source, text), FeedLine("b", "SEEN [short]")])
        await pilot.pause()
        lines = [strip.text.rstrip() for strip in app.query_one("#feed-log", RichLog).lines]
        assert lines[0].startswith(source + " SEEN")  # the name whole, the text after it
        assert all(line.startswith(" " * (len(source) + 1)) for line in lines[1:-1])
        body = "".join(line[len(source) + 1 :] for line in lines[:-1])
        assert len(lines) > 3 and body.replace(" ", "") == text.replace(" ", "")  # nothing lost
        assert all(len(line) <= SMALL[0] for line in lines)
        assert lines[-1] == "b" + " " * len(source) + "SEEN [short]"


async def test_feed_lines_written_with_the_filter_open_are_not_cut_at_the_edge() -> None:
    """The filter box's side margins must not narrow the log: lines wrapped at its width
    would then run under its edge, cut, behind a horizontal scrollbar."""
    app = console(empty=True)
    async with app.run_test(size=SMALL) as pilot:
        await steps("2")(pilot)
        panel = app.query_one(FeedPanel)
        log = app.query_one("#feed-log", RichLog)
        text = 'SEEN ["greenhouse-3:heater_activated:v1 (v980) => %{intensity: 4}"]'
        for _ in range(10):  # enough for a vertical scrollbar
            panel.add_lines([FeedLine("everything", text)] * 3)
            await pilot.pause()
        await pilot.press("slash")
        panel.add_lines([FeedLine("everything", text)] * 3)
        await pilot.pause()
        assert log.region.width == SMALL[0] and not log.show_horizontal_scrollbar
        assert max(line.cell_length for line in log.lines) <= log.scrollable_content_region.width


async def test_the_node_log_wraps_again_when_the_terminal_narrows() -> None:
    """Lines written at one width are wrapped anew at a narrower one, not cut at the edge."""

    class LogApp(App[None]):
        def compose(self) -> ComposeResult:
            yield RewrappingLog(max_lines=10, id="log")

    sentence = " ".join(f"word{n}" for n in range(18))  # 107 columns
    app = LogApp()
    async with app.run_test(size=(120, 10)) as pilot:
        log = app.query_one(RewrappingLog)
        log.add(Text(sentence))
        await pilot.pause()
        assert max(line.cell_length for line in log.lines) > 40
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        assert all(line.cell_length <= 40 for line in log.lines)
        assert " ".join(line.text.strip() for line in log.lines) == sentence


async def test_a_log_written_while_its_tab_is_hidden_wraps_at_its_width_when_shown() -> None:
    """A hidden pane has no width; lines written then must not wrap one character a line."""

    class TabsApp(App[None]):
        def compose(self) -> ComposeResult:
            with TabbedContent():
                with TabPane("log", id="with-log"):
                    yield RewrappingLog(max_lines=10, id="log")
                yield TabPane("other", id="other")

    sentence = " ".join(f"word{n}" for n in range(6))
    app = TabsApp()
    async with app.run_test(size=(120, 10)) as pilot:
        log = app.query_one(RewrappingLog)
        log.add(Text("first"))
        await pilot.pause()
        app.query_one(TabbedContent).active = "other"
        await pilot.pause()
        log.add(Text(sentence))
        await pilot.pause()
        app.query_one(TabbedContent).active = "with-log"
        await pilot.pause()
        assert [line.text.strip() for line in log.lines] == ["first", sentence]


def labels(table: DataTable[Any]) -> tuple[str, ...]:
    return tuple(column.label.plain for column in table.ordered_columns)


def within(table: DataTable[Any]) -> bool:
    """Whether the table's columns end inside it (nothing past its right edge)."""
    return table.virtual_size.width <= table.scrollable_content_region.width


def shown(table: DataTable[Any], lines: int) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(lines)]


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x36"])
async def test_stream_data_stays_within_the_terminal(size: tuple[int, int]) -> None:
    """The Data column takes what the other columns leave; at 80 columns that is too little for
    a payload, which then goes under its event type."""
    app = console()
    async with app.run_test(size=size) as pilot:
        await steps("6")(pilot)
        table = app.query_one("#stream-events", DataTable)
        assert within(table)
        lines = shown(table, 5)
        if size == SMALL:
            assert labels(table) == NARROW_COLUMNS
            assert lines[1].split() == ["v0", "10", "desired_temperature_set:v1"]
            assert lines[2].strip() == "%{temperature: 21}"
            assert lines[3].split()[:2] == ["v1", "13"]
        else:
            assert labels(table) == COLUMNS
            assert lines[1].split() == [
                "v0",
                "10",
                "desired_temperature_set:v1",
                "%{temperature:",
                "21}",
            ]
            assert lines[2].split()[:2] == ["v1", "13"]


async def test_a_long_payload_folds_in_the_data_column() -> None:
    """Nothing of a payload wider than its column is lost: it folds onto more lines."""

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(id="events")

    data = {f"field_{n}": "x" * n for n in range(12)}  # 150 columns as an Elixir map
    event = {"event_number": 7, "position": 21, "event_type": "note_taken:v1", "data": data}
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(DataTable)
        fill_events(table, [event])
        await pilot.pause()
        assert labels(table) == COLUMNS and within(table)
        height = table.rows[table.ordered_rows[0].key].height
        assert height > 1
        lines = shown(table, 1 + height)
        data_x = lines[0].index("Data")
        assert lines[1][:data_x].split() == ["v7", "21", "note_taken:v1"]
        assert all(not line[:data_x].strip() for line in lines[2:])  # the rest under Data only
        folded = "".join(line[data_x:] for line in lines[1:]).replace(" ", "")
        assert (
            folded == "%{" + ",".join(f"field_{n}:" + '"' + "x" * n + '"' for n in range(12)) + "}"
        )


async def test_the_open_page_is_laid_out_again_when_the_terminal_narrows() -> None:
    app = console()
    async with app.run_test(size=LARGE) as pilot:
        await steps("6")(pilot)
        table = app.query_one("#stream-events", DataTable)
        table.focus()
        table.move_cursor(row=5)
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        assert labels(table) == NARROW_COLUMNS and within(table)
        assert table.cursor_row == 5  # still v5
        await pilot.resize_terminal(*LARGE)
        await pilot.pause()
        assert labels(table) == COLUMNS and within(table) and table.cursor_row == 5


async def test_subscriptions_at_80_columns_keep_every_header_whole() -> None:
    """Too narrow for the whole table, the selector and the consumer's policy go to a line
    about the selected subscription; the columns left, "Consumers" the last, are whole."""
    app = console()
    async with app.run_test(size=LARGE) as pilot:
        await steps("5")(pilot)
        panel = app.query_one(SubscriptionsPanel)
        detail = panel.query_one(".detail", Static)
        assert labels(panel.table) == SubscriptionsPanel.COLUMNS and within(panel.table)
        assert not detail.display
        assert str(panel.table.get_row("heat")[-1]) == "by_event_type heater_activated:v1"
        panel.table.move_cursor(row=1)  # heat

        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        assert labels(panel.table) == SubscriptionsPanel.COMPACT_COLUMNS and within(panel.table)
        assert shown(panel.table, 1)[0].split()[-1] == "Consumers"
        assert panel.selected == "heat" and detail.display
        said = str(detail.render())
        assert said == "heat · not consumed here · selector by_event_type heater_activated:v1"
        panel.table.move_cursor(row=0)
        await pilot.pause()
        assert str(detail.render()) == "my_sub · here ✓ park 1/300 · selector by_stream $all"
        assert [str(cell) for cell in panel.table.get_row("my_sub")][:2] == ["my_sub", "✓"]

        await pilot.resize_terminal(*LARGE)
        await pilot.pause()
        assert labels(panel.table) == SubscriptionsPanel.COLUMNS and not detail.display
        assert str(panel.table.get_row("my_sub")[1]) == "✓ park 1/300"

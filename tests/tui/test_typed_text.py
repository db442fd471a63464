"""What a person typed is shown as typed, never read as markup (found by tests/tui/test_monkey.py:
a feed filter, and then a name, of ``[/]`` killed the dashboard with ``MarkupError``)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from console.ops.errors import OpsError
from console.ops.streams import GreenhouseView
from console.tui.app import GateConsole
from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.dialogs.form import Field, FormDialog
from console.tui.feed.lines import FeedLine, render_lines
from console.tui.streams.greenhouse import greenhouse_table
from console.tui.table_sync import Cell, sync_table
from tests.tui.recorded import RecordedOps

TYPED = "[/] [bold]x[/bold] [red"


def shown(widget: Static) -> str:
    return str(widget.render())


async def test_a_feed_filter_that_looks_like_markup() -> None:
    app = GateConsole(RecordedOps().as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("slash", *TYPED)
        await pilot.pause()
        assert app.is_running
        assert f"filter “{TYPED.lower()}”" in shown(app.query_one("#feed-status", Static))
        await pilot.press("ctrl+q")


async def test_a_dialogs_error_quoting_what_was_typed() -> None:
    async def refuse(values: dict[str, str]) -> str:
        raise OpsError(f"no stream named '{values['stream']}'")

    dialog: FormDialog[str] = FormDialog(
        f"Title {TYPED}", [Field("stream", "Stream:")], refuse, hint=TYPED, blink=False
    )
    app: App[None] = App()
    async with app.run_test() as pilot:
        await app.push_screen(dialog)
        await pilot.press(*TYPED, "enter")
        await dialog.workers.wait_for_complete()
        await pilot.pause()
        assert shown(dialog.query_one("#form-error", Static)) == f"❌ no stream named '{TYPED}'"
        assert shown(dialog.query_one(".title", Static)) == f"Title {TYPED}"
        assert shown(dialog.query_one(".hint", Static)) == TYPED


async def test_a_question_naming_what_was_typed() -> None:
    question = ConfirmDialog(f"Delete subscription '{TYPED}'?", TYPED)
    app: App[None] = App()
    async with app.run_test() as pilot:
        await app.push_screen(question)
        await pilot.pause()
        assert shown(question.query_one(".title", Static)) == f"Delete subscription '{TYPED}'?"
        assert shown(question.query_one(".hint", Static)) == TYPED


async def test_table_cells_named_by_people() -> None:
    """Subscription, observer and stream names, and event data, in the dashboard's tables."""

    class Tables(App[None]):
        def compose(self) -> ComposeResult:
            table: DataTable[Cell] = DataTable()
            table.add_columns("Name", "Data")
            yield table

    app = Tables()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        sync_table(table, [("sub", [TYPED, "[bold]"])])
        await pilot.pause()  # cells are measured when the table is next idle
        sync_table(table, [("sub", [TYPED, "[/bold]"])])
        await pilot.pause()
        assert app._exception is None
        assert [str(cell) for cell in table.get_row("sub")] == [TYPED, "[/bold]"]


def test_feed_lines_and_a_greenhouse_named_by_people() -> None:
    console = Console(width=80, file=io.StringIO())
    console.print(render_lines([FeedLine(TYPED, 'SEEN ["[/]" "x"]')], len(TYPED)))
    house = replace(asyncio.run(RecordedOps().streams.greenhouse("g")).greenhouse, name=TYPED)
    console.print(greenhouse_table(GreenhouseView(house, [])))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert TYPED in shown and 'SEEN ["[/]" "x"]' in shown

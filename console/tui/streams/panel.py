"""The streams browser: the store's streams on the left, a page of the open stream's events."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from console.ops.errors import OpsError, failure_text
from console.ops.formatting import elixir_term
from console.ops.streams import StreamOps, StreamPage, StreamRow
from console.tui.feed.lines import type_style
from console.tui.requests import catalogue_bindings, request, role_allows
from console.tui.streams.paging import PageRequest, newer_events, shows_end
from console.tui.table_sync import Cell, literal, room_for_last, selected_key, sync_table
from engine.client import GateError
from engine.client.results import EventRecord

COLUMNS = ("Ver", "Pos", "Event type", "Data")
NARROW_COLUMNS = ("Ver", "Pos", "Event type, data")
# Narrower than this, a payload folds onto more lines than it is worth (as in gate-repl's View
# Stream): the data goes under its event type instead, in the type's column.
DATA_MIN = 16


def event_cells(event: EventRecord, *, narrow: bool = False) -> list[Cell]:
    """One event's cells: version, position, coloured type, data (folded where it is cut);
    ``narrow``, the data on a line under the type, in its cell."""
    event_type = str(event.get("event_type"))
    described = [
        Text(event_type, style=type_style(event_type)),
        Text(elixir_term(event.get("data")), overflow="fold"),
    ]
    return [
        f"v{event.get('event_number')}",
        str(event.get("position")),
        *([Text("\n").join(described)] if narrow else described),
    ]


def fill_events(table: DataTable[Cell], events: list[EventRecord]) -> None:
    """Show ``events`` within the table's width: the data column takes what the others leave
    and folds what does not fit, or else goes under the event types."""
    rows = [event_cells(event) for event in events]
    columns: tuple[str, ...] = COLUMNS
    room = room_for_last(table, columns, rows)
    if room < DATA_MIN:
        rows = [event_cells(event, narrow=True) for event in events]
        columns = NARROW_COLUMNS
        room = room_for_last(table, columns, rows)
    table.clear(columns=True)
    table.add_columns(*columns)
    last = table.ordered_columns[-1]
    last.width, last.auto_width = max(room, last.label.cell_len), False
    for event, cells in zip(events, rows, strict=True):
        shown = [literal(cell) for cell in cells]
        table.add_row(*shown, key=str(event.get("event_number")), height=None)


_OPEN_HINT = "Enter opens the stream selected on the left"


class StreamsPanel(Horizontal):
    """Pick a stream (Enter), page through it, append to it, open its greenhouse."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right_square_bracket", "page('next')", "Next", key_display="]"),
        Binding("left_square_bracket", "page('previous')", "Prev", key_display="["),
        Binding("v", "reverse", "Reverse"),
        *catalogue_bindings("streams"),
    ]

    def __init__(self, streams: StreamOps, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.streams = streams
        self.request: PageRequest | None = None
        self.page: StreamPage | None = None
        self.following = False  # the open page shows the stream's end, and keeps doing so
        self.latest: int | None = None  # the open stream's last event in the latest list
        self.width_filled = 0  # the events table's width when its page was laid out

    def compose(self) -> ComposeResult:
        table: DataTable[Cell] = DataTable(cursor_type="row", id="stream-list")
        table.add_columns("Stream", "Version")
        yield table
        with Vertical(id="stream-page"):
            # Names the stream as typed in the browse dialog: never read as markup.
            yield Static(_OPEN_HINT, id="page-title", markup=False)
            events: DataTable[Cell] = DataTable(cursor_type="row", id="stream-events")
            events.add_columns(*COLUMNS)
            yield events

    def follow(self, streams: StreamOps) -> None:
        """Another store's streams from now on: nothing of the old one stays open."""
        self.streams = streams
        self.request = self.page = self.latest = None
        self.following = False
        self.query_one("#stream-list", DataTable).clear()
        self.query_one("#stream-events", DataTable).clear()
        self.query_one("#page-title", Static).update(_OPEN_HINT)

    def show_streams(self, rows: list[StreamRow]) -> None:
        """The store's streams (a diff of the list); the open page follows its stream while it
        shows the stream's end, and otherwise says how many newer events there are."""
        table = self.query_one("#stream-list", DataTable)
        sync_table(table, [(row.stream_id, [row.stream_id, str(row.version)]) for row in rows])
        if self.request is None and rows:
            self.request = PageRequest(rows[0].stream_id)  # show something from the start
            self.read(self.request)
            return
        if self.request is None or self.page is None:
            return
        latest = next((row.version for row in rows if row.stream_id == self.request.stream), None)
        if latest is None:
            return
        if self.following and latest > max(self._numbers(), default=-1):
            self.latest = latest
            self.read(self.request.follow(latest), follows=True)
        elif latest != self.latest:
            self.latest = latest
            self._show_title()

    @property
    def current_stream(self) -> str | None:
        """The open stream, or else the one selected in the list."""
        if self.request is not None:
            return self.request.stream
        return selected_key(self.query_one("#stream-list", DataTable))

    def show_page(self, request: PageRequest, page: StreamPage, *, follows: bool = False) -> None:
        """Show a page that was read (``follows``: to follow the stream's end)."""
        if self.request is None or self.request.stream != request.stream:
            self.latest = None  # another stream: the list's version of the old one is no use
        self.request, self.page = request, page
        self.latest = max(page.version, -1 if self.latest is None else self.latest)
        numbers = self._numbers()
        # A page read to follow the stream follows on though events came between the list that
        # asked for it and the read (the title counts them): the next list reads them.
        self.following = follows or shows_end(numbers, page.version)
        table = self.query_one("#stream-events", DataTable)
        fill_events(table, page.events)
        self.width_filled = table.size.width
        if self.following and request.direction == "forward":
            table.move_cursor(row=table.row_count - 1)  # the newest event, as a log that follows
        self._show_title()

    def on_resize(self) -> None:
        """Lay the open page out anew for the new width, the cursor on the same event."""
        table = self.query_one("#stream-events", DataTable)
        if self.page is None or table.size.width == self.width_filled:
            return
        self.width_filled = table.size.width
        cursor = table.cursor_row
        fill_events(table, self.page.events)
        table.move_cursor(row=cursor)

    def _numbers(self) -> list[int]:
        events = self.page.events if self.page is not None else []
        return [int(str(event["event_number"])) for event in events]

    def _show_title(self) -> None:
        if self.request is None or self.page is None:
            return
        numbers = self._numbers()
        shown = f"v{numbers[0]}…v{numbers[-1]}" if numbers else "no events in that range"
        version = max(self.page.version, -1 if self.latest is None else self.latest)
        parts = [self.page.stream_id, self.request.describe(), shown, f"version {version}"]
        newer = newer_events(numbers, self.page.version, version)
        if newer:
            parts.append(f"{newer} newer event{'s' if newer != 1 else ''}")
        elif self.following:
            parts.append("following")
        self.query_one("#page-title", Static).update(" · ".join(parts))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on the list opens that stream at its first page."""
        if event.data_table.id == "stream-list" and event.row_key.value is not None:
            event.stop()
            self.read(PageRequest(event.row_key.value))

    def action_page(self, which: str) -> None:
        """The next or previous page of the open stream."""
        if self.request is None or self.page is None or not self.page.events:
            return
        numbers = self._numbers()
        version = self.page.version
        if which == "next":
            request = self.request.next(numbers[0], numbers[-1], version)
        else:
            request = self.request.previous(numbers[0], version)
        if request is None:
            self.notify("No more events that way", severity="warning")
            return
        self.read(request)

    def action_reverse(self) -> None:
        """Read the open stream the other way round."""
        if self.request is not None:
            self.read(self.request.reversed())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys of operations the console's role may not run are hidden (and do nothing)."""
        return role_allows(self, action, parameters)

    def action_request(self, name: str) -> None:
        """Ask the app for a stream operation on the open (or selected) stream."""
        self.post_message(request(name, self.current_stream))

    @work(exclusive=True, group="stream-page")
    async def read(self, request: PageRequest, *, follows: bool = False) -> None:
        """Read a page in the background and show it (unless the store changed meanwhile)."""
        streams = self.streams
        try:
            page = await streams.read(
                request.stream, request.start, request.count, request.direction
            )
        except (OpsError, GateError) as exc:
            self.notify(f"❌ {failure_text(exc)}", severity="error", markup=False)
            return
        if streams is self.streams:
            self.show_page(request, page, follows=follows)

"""The Streams panel's paging (console/tui/streams/paging.py): where pages start, and how an open
page follows a stream that grows while it shows the end (issue #15, point 4)."""

from __future__ import annotations

from textual.widgets import Static

from console.ops.streams import StreamRow
from console.tui.streams.paging import PageRequest, newer_events, shows_end
from console.tui.streams.panel import StreamsPanel
from tests.tui.test_snapshots import console, settle, steps


def test_following_forward_shows_the_last_page() -> None:
    request = PageRequest("s", start=0, count=20)
    assert request.follow(60).start == 41
    assert request.follow(5).start == 0  # a stream shorter than a page: from its first event


def test_following_backward_reads_from_the_last_event() -> None:
    request = PageRequest("s", start=12, direction="backward")
    assert request.follow(60).start is None
    assert request.follow(60).describe() == "backward from the last event"


def test_a_page_holding_the_last_event_shows_the_end() -> None:
    assert shows_end(range(27, 47), 46)
    assert shows_end([46, 45, 44], 46)  # read backward
    assert not shows_end(range(0, 20), 46)
    assert shows_end([], 46)  # an empty page past the end


def test_newer_events_counts_what_came_after_the_page() -> None:
    assert newer_events(range(0, 20), 46, 61) == 42
    assert newer_events(range(27, 47), 46, 61) == 15
    assert newer_events(range(27, 47), 46, 46) == 0
    assert newer_events([], 46, 61) == 15  # an empty page read at version 46


def test_next_and_previous_pages() -> None:
    forward = PageRequest("s", start=20, count=20)
    assert forward.next(20, 39, 46) == PageRequest("s", start=40, count=20)
    assert forward.next(40, 46, 46) is None
    assert forward.previous(20, 46) == PageRequest("s", start=0, count=20)
    assert PageRequest("s", start=0).previous(0, 46) is None
    backward = PageRequest("s", start=None, direction="backward", count=20)
    assert backward.next(46, 27, 46) == PageRequest("s", start=26, direction="backward", count=20)
    assert backward.next(19, 0, 46) is None
    assert backward.previous(26, 46) == PageRequest("s", start=46, direction="backward", count=20)
    assert backward.reversed() == PageRequest("s", start=0, direction="forward", count=20)


async def test_a_following_page_follows_on_when_the_stream_grew_before_its_read() -> None:
    """Events that land between the list and the page's read leave the page one step behind,
    still following: the next list reads them (it used to stop following there)."""
    app = console()
    async with app.run_test(size=(120, 36)) as pilot:
        await steps("6")(pilot)
        panel = app.query_one(StreamsPanel)
        title = panel.query_one("#page-title", Static)
        versions = app.ops.streams.versions  # type: ignore[attr-defined]
        panel.read(PageRequest("greenhouse-1", start=391))  # v391…v410, the end
        await settle(app)
        assert panel.following and str(title.render()).endswith("· following")

        versions["greenhouse-1"] = 420  # what the read finds
        panel.show_streams([StreamRow("greenhouse-1", 415)])  # what the list said just before
        await settle(app)
        assert panel._numbers()[-1] == 415 and panel.following
        assert str(title.render()).endswith("· version 420 · 5 newer events")

        panel.show_streams([StreamRow("greenhouse-1", 420)])
        await settle(app)
        assert panel._numbers()[-1] == 420
        assert str(title.render()).endswith("· version 420 · following")

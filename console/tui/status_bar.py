"""The top line: the leader and term, the tempo in slow motion, nodes up, events/s and their
sparkline, the store, the gateway; below it, once this console's producers have written, the live
verdict."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from console.ops.cluster import HealthSample
from console.ops.formatting import rate_text
from console.ops.verdict import verdict_text
from engine.client.checker import LiveVerdict

HISTORY = 60  # samples in the sparkline (about a minute at one sample a second)


def status_text(
    sample: HealthSample | None, url: str, access: str = "", store: str = "", replay: str = ""
) -> Text:
    """The status line for the latest health sample: the leader first, so a narrow terminal
    cuts the gateway's address at the end, never the leader's name; ``access`` (the token's
    name and role, when tokens limit anyone), then the store the console works on, just before
    the address.  A replay (``REPLAY file 0:42.0/3:10.5 2×``) comes first instead of the
    address, which it has none of."""
    if replay:
        return Text.assemble((f"▶ {replay}", "bold black on yellow"), " ", _health_text(sample))
    gateway = Text(f" · {url.removeprefix('http://')}", style="dim")
    if store:
        gateway = Text.assemble(" · store ", (store, "bold magenta"), gateway)
    if access:  # before the store: a narrow terminal keeps the seat's role
        gateway = Text.assemble(" · as ", (access, "bold cyan"), gateway)
    return _health_text(sample, gateway)


def _health_text(sample: HealthSample | None, gateway: Text | None = None) -> Text:
    gateway = gateway or Text()
    if sample is None:
        return Text.assemble(("connecting…", "yellow"), gateway)
    status = sample.status
    if status is None:
        return Text.assemble((f"🔴 unreachable: {sample.error}", "bold red"), gateway)
    text = Text()
    if status.leader:
        text.append(f"leader {status.leader}", style="bold green")
    else:
        text.append("no leader", style="bold white on red")
    text.append(f" · term {status.term}")
    if status.tempo_text:
        text.append(" · ")
        text.append(status.tempo_text, style="bold yellow")
    total = len(status.nodes)
    style = "green" if status.nodes_up == total else "bold red"
    text.append(" · ")
    text.append(f"{status.nodes_up}/{total} up", style=style)
    text.append(f" · events {rate_text(sample.events_per_second)}")
    text.append_text(gateway)
    return text


class StatusBar(Horizontal):
    """Always on top, so a failover shows whichever panel is open."""

    def __init__(
        self, url: str, access: str = "", store: str = "", *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.url = url
        self.access = access
        self.store = store
        self._sample: HealthSample | None = None
        self.replay = ""  # where a replay is (console/tui/replay.py), first on the line
        self.rates: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        text = status_text(None, self.url, self.access, self.store, self.replay)
        yield Static(text, id="status-text")
        yield Sparkline(list(self.rates), id="rate-sparkline")

    def add_rate(self, sample: HealthSample | None) -> None:
        """A new health sample's rate, for the sparkline (drawn by ``show``)."""
        if sample is not None:
            self.rates.append(sample.events_per_second)

    def show(self, sample: HealthSample | None) -> None:
        """Show the latest health sample and the sparkline of the rates so far."""
        self._sample = sample
        text = status_text(sample, self.url, self.access, self.store, self.replay)
        self.query_one("#status-text", Static).update(text, layout=False)
        if sample is not None:
            self.query_one(Sparkline).data = list(self.rates)

    def show_replay(self, where: str) -> None:
        """Where a replay is (it changes between health samples: nothing else is redrawn)."""
        self.replay = where
        text = status_text(self._sample, self.url, self.access, self.store, where)
        self.query_one("#status-text", Static).update(text, layout=False)

    def show_store(self, store: str) -> None:
        """Name another store; its events per second start afresh."""
        self.store = store
        self.rates.extend([0.0] * HISTORY)
        self.query_one(Sparkline).data = list(self.rates)
        text = status_text(self._sample, self.url, self.access, store, self.replay)
        self.query_one("#status-text", Static).update(text, layout=False)


class VerdictLine(Static):
    """The live verdict on what this console's producers got acknowledged (console.ops.verdict),
    under the status line so a fault shows it whichever panel is open; hidden until a producer
    started."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.shown = ""
        self.display = False

    def show(self, verdict: LiveVerdict | None, unreadable: bool = False) -> None:
        """Show the latest verdict (the widget changes only when its text does)."""
        text, ok = verdict_text(verdict, unreadable)
        if text == self.shown:
            return
        self.shown = text
        self.display = bool(text)
        self.update(Text.assemble((text, "green" if ok else "bold white on red")))

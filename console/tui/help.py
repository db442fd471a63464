"""``?``: every key of every panel, and where the rest is (the command palette)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Gate console

Watch the cluster work and fail, and drive it. **Ctrl+P** lists every operation.

| Keys | Everywhere |
|---|---|
| `1`…`6` | Cluster · Feed · Observers · Producers · Subscriptions · Streams |
| `/` | filter the live feed |
| `?` · `Ctrl+P` · `Ctrl+Q` | this help · command palette · quit (stops what it started) |

| Panel | Keys |
|---|---|
| Cluster | `s` stop · `k` kill · `p` pause · `u` resume · `r` restart · `t` start (selected node) |
| Feed | `/` filter · `Esc` no filter · `space` pause/follow · `c` clear |
| Observers | `n` by stream · `e` by type · `p` by payload · `d` stop · `m` monitor · `space` feed |
| Producers | `n` start producers · `d` stop the selected one |
| Subscriptions | `n` new · `d` delete · `c` consume · `a` ack/nack · `r` replay · `m` monitor |
| Streams | `Enter` open · `]` `[` pages · `v` reverse · `b` browse · `a` `e` append · `g` house |

The header shows the leader and term; the Cluster panel's timeline tells a failover as it
happens: a node down, an election, the new leader, the old leader catching up, a node its
gateway restarted (↻N by its name: restarted N times).
"""


class HelpScreen(ModalScreen[None]):
    """The keys, in one place."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Markdown(HELP)

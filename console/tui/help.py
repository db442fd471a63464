"""``?``: every key of every panel, and where the rest is (the command palette); the keys of
operations come from ``console.ops.catalogue``, as the panels' own bindings do."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from console.ops.catalogue import PANELS, Panel, panel_keys
from engine.config_model import Role

# Keys that move around a panel rather than run an operation, before and after its operations'.
_VIEW_KEYS: dict[Panel, tuple[str, str]] = {
    "cluster": ("", "(selected node)"),
    "feed": ("`/` filter · `Esc` no filter · `space` pause/follow · `c` clear", ""),
    "streams": ("`Enter` open · `]` `[` pages · `v` reverse", ""),
    "messages": ("`↑` `↓` select (its fields show beneath) · `space` follow · `c` clear", ""),
}


def _keys(panel: Panel | None, role: Role) -> str:
    return " · ".join(f"`{key.shown}` {key.words}" for _, key in panel_keys(panel, role))


def _panel_row(panel: Panel, title: str, role: Role) -> str:
    before, after = _VIEW_KEYS.get(panel, ("", ""))
    keys = " · ".join(part for part in (before, _keys(panel, role)) if part)
    return f"| {title} | {keys}{' ' + after if after else ''} |"


# gate-console --replay's keys (console/tui/replay.py), first on its help screen.
REPLAY_KEYS = (
    "| Keys | Replaying a recorded session (no cluster: operations, and answers to a recorded "
    "lesson's question, say read only) |",
    "|---|---|",
    "| `space` | pause · play |",
    "| `.` | the next record (paused) |",
    "| `<` `>` | slower · faster (¼× to 16×) |",
    "| `[` `]` | back · forward 5 seconds |",
    "| `{` `}` | the start · the end |",
    "",
)


def help_text(role: Role = "admin", *, replay: bool = False) -> str:
    """The help screen: the app's keys, then each panel's, from the operations catalogue (those
    ``role`` may run); a replay's keys first when ``replay``."""
    everywhere = [f"| `{key.shown}` | {key.words} |" for _, key in panel_keys(None, role)]
    return "\n".join(
        [
            "# Gate console",
            "",
            "Watch the cluster work and fail, and drive it. **Ctrl+P** lists every operation.",
            "",
            *(REPLAY_KEYS if replay else ()),
            "| Keys | Everywhere |",
            "|---|---|",
            f"| `1`…`{len(PANELS)}` | {' · '.join(title for _, title in PANELS)} |",
            *everywhere,
            "| `G` | live charts under the Cluster, Feed and Subscriptions panels: show, hide |",
            "| `.` · `1`…`9` | a lesson's next step · the answer to its question, while one is "
            "open |",
            "| `?` | this help |",
            "| `Ctrl+P` | the command palette: every operation |",
            "| `Ctrl+Q` | quit (stops what this console started) |",
            "",
            "| Panel | Keys |",
            "|---|---|",
            *(_panel_row(panel, title, role) for panel, title in PANELS),
            "",
            "The header shows the leader and term; the Cluster panel's timeline tells a failover "
            "as it",
            "happens: a node down, an election, the new leader, the old leader catching up, a node "
            "its",
            "gateway restarted (↻N by its name: restarted N times), a node isolated (✂) and "
            "healed,",
            "a leadership transfer, a node joining as a learner, promoted or removed.",
            "",
        ]
    )


class HelpScreen(ModalScreen[None]):
    """The keys, in one place."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, role: Role = "admin", *, replay: bool = False) -> None:
        super().__init__()
        self.role = role
        self.replay = replay

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Markdown(help_text(self.role, replay=self.replay))

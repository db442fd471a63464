"""The footer: the focused panel's keys, with ``? Help`` kept at the right edge.

Textual's footer lists the focused widget's keys before the app's, so on a panel with many keys
at 80 columns the app's ``? Help`` was the one cut off; it is pinned right instead, with the
command palette's key, where no panel's keys can push it out.

The pinned group is found by a class, not an id: Textual recomposes the footer whenever the
bindings change, and a recompose can mount the new keys while the old ones (not yet started,
so not waited for) are still attached; two groups with one id would crash the app.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_KEY = "question_mark"


class GateFooter(Footer):
    """A compact footer whose help and palette keys stay on screen."""

    DEFAULT_CSS = """
    GateFooter .pinned-keys {
        dock: right;
        width: auto;
        background: $footer-background;
    }
    GateFooter .pinned-keys FooterKey.-command-palette {
        dock: none;
    }
    """

    def compose(self) -> ComposeResult:
        pinned: list[FooterKey] = []
        for widget in super().compose():
            if isinstance(widget, FooterKey) and (
                widget.key == HELP_KEY or widget.has_class("-command-palette")
            ):
                pinned.append(widget)
            else:
                yield widget
        with HorizontalGroup(classes="pinned-keys"):
            yield from pinned

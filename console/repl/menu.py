"""The menu of docs/CONSOLE.md: the classic 15, number for number, then the cluster-lab options."""

from __future__ import annotations

from dataclasses import dataclass

from console.repl.printer import Printer

TITLE = "========== Gate Interactive Console =========="
EXIT = 15
LAST = 27  # the classic 15 and the cluster lab's 16-27
PROMPT = f"👉 Select an option (1-{LAST}): "
# Answers that show the whole menu again (Enter on an empty line too).
MENU_REQUESTS = frozenset({"", "?", "m", "menu", "help"})
COMPACT_MENU = "Enter: menu · 1-6 observe · 7-9 produce · 10-11 subscribe · 12+ data · 15 exit"


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and its numbered options."""

    heading: str
    style: str
    options: tuple[tuple[int, str], ...]


CLASSIC: tuple[Section, ...] = (
    Section(
        "📊 Observers:",
        "ansigreen",
        (
            (1, "Create Observer by Stream"),
            (2, "Create Observer by Event Type"),
            (3, "Create Observer by Event Payload"),
            (4, "List Active Observers"),
            (5, "Monitor Specific Observer"),
            (6, "Stop Observer"),
        ),
    ),
    Section(
        "🏭 Producers:",
        "ansiyellow",
        ((7, "Start Producers"), (8, "Stop Producer"), (9, "List Active Producers")),
    ),
    Section(
        "📡 Subscriptions:",
        "ansimagenta",
        ((10, "Create Subscription"), (11, "List Subscriptions")),
    ),
    Section(
        "📈 Data Management:",
        "ansiblue",
        ((12, "View Stream Data"), (13, "Append Events Manually"), (14, "Get Cluster Status")),
    ),
    Section("🚪 Exit:", "ansired", ((EXIT, "Exit Console"),)),
)

LAB = Section(
    "🧪 Cluster Lab:",
    "ansicyan",
    (
        (16, "Node Health Detail"),
        (17, "Stop Node"),
        (18, "Kill Node"),
        (19, "Start Node"),
        (20, "Restart Node"),
        (21, "Pause Node"),
        (22, "Resume Node"),
        (23, "Greenhouse & Snapshots"),
        (24, "Append a Chosen Event"),
        (25, "Browse Stream"),
        (26, "Set Consumer Ack Policy"),
        (27, "Replay Parked Events"),
    ),
)

TITLES: dict[int, str] = {n: t for s in (*CLASSIC, LAB) for n, t in s.options}
_LAB_COLUMNS = 3


def render_menu(printer: Printer) -> None:
    """Print the menu: the classic 15 as in the original, then the lab options in columns."""
    printer.line()
    printer.line(TITLE, "class:title")
    for section in CLASSIC:
        printer.line(section.heading, f"bold {section.style}")
        for number, title in section.options:
            printer.line(f"  {number}. {title}")
    printer.line(LAB.heading, f"bold {LAB.style}")
    cells = [f"{number}. {title}" for number, title in LAB.options]
    # Each column as wide as its own longest cell, so the lab stays within 80 columns.
    widths = [
        max(len(cell) for cell in cells[column::_LAB_COLUMNS]) + 2 for column in range(_LAB_COLUMNS)
    ]
    for row in range(0, len(cells), _LAB_COLUMNS):
        chunk = cells[row : row + _LAB_COLUMNS]
        line = "".join(cell.ljust(width) for cell, width in zip(chunk, widths, strict=False))
        printer.line("  " + line.rstrip())

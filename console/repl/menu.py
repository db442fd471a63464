"""The menu of docs/CONSOLE.md: the classic 15, number for number, then the cluster-lab options
(numbers and titles from ``console.ops.catalogue``).  An option the cluster's backend does not
offer (``Offer``: JetStream's lacks Gate's own Raft tools) keeps its number, dimmed and marked
``✗``, and the lab's heading says what the mark means."""

from __future__ import annotations

from dataclasses import dataclass

from prompt_toolkit.utils import get_cwidth

from console.ops.catalogue import EVERYTHING, EXIT, NUMBERED, Offer, numbered
from console.repl.printer import Fragments, Printer
from engine.config_model import Role

TITLE = "========== Gate Interactive Console =========="
LAST = max(NUMBERED)  # the classic 15, then the cluster lab from 16
PROMPT = f"👉 Select an option (1-{LAST}): "
# Answers that show the whole menu again (Enter on an empty line too).
MENU_REQUESTS = frozenset({"", "?", "m", "menu", "help"})
_GUTTER = 3  # spaces between the compact menu's two columns
MISSING = "✗"  # after an option the cluster's backend does not offer
COMPACT_MENU = "Enter: menu · 1-6 observe · 7-9 produce · 10-11 subscribe · 12+ data · 15 exit"


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and its numbered options (titled by the catalogue)."""

    heading: str
    style: str
    numbers: tuple[int, ...]

    def options(self, role: Role = "admin") -> tuple[tuple[int, str], ...]:
        """``(number, title)`` of each option ``role`` may run (the others are not shown)."""
        return tuple(
            (number, numbered(number).title)
            for number in self.numbers
            if numbered(number).allowed(role)
        )

    def cells(self, role: Role, offer: Offer) -> list[tuple[str, str]]:
        """``(style, text)`` of each option shown: ``1. Title``, or dimmed and marked when the
        backend does not offer it."""
        cells = []
        for number, title in self.options(role):
            if offer.offers(numbered(number)):
                cells.append(("", f"{number}. {title}"))
            else:
                cells.append(("class:unavailable", f"{number}. {title} {MISSING}"))
        return cells


CLASSIC: tuple[Section, ...] = (
    Section("📊 Observers:", "ansigreen", (1, 2, 3, 4, 5, 6)),
    Section("🏭 Producers:", "ansiyellow", (7, 8, 9)),
    Section("📡 Subscriptions:", "ansimagenta", (10, 11)),
    Section("📈 Data Management:", "ansiblue", (12, 13, 14)),
    Section("🚪 Exit:", "ansired", (EXIT,)),
)
LAB = Section("🧪 Cluster Lab:", "ansicyan", tuple(range(16, LAST + 1)))
SECTIONS = (*CLASSIC, LAB)

TITLES: dict[int, str] = {number: op.title for number, op in NUMBERED.items()}
_LAB_COLUMNS = 3
# Lines below the menu: the prompt and, at a terminal, the bottom toolbar.
_BELOW = 2
# The classic sections side by side in the compact menu: (left, right) per band.
_BANDS = ((CLASSIC[0], CLASSIC[1:3]), (CLASSIC[3], CLASSIC[4:5]))


def _section_lines(section: Section, role: Role, offer: Offer) -> list[Fragments]:
    lines: list[Fragments] = [[(f"bold {section.style}", section.heading)]]
    lines += [[(style, f"  {cell}")] for style, cell in section.cells(role, offer)]
    return lines


def _lab_lines(role: Role, offer: Offer) -> list[Fragments]:
    cells = LAB.cells(role, offer)
    # Each column as wide as its own longest cell, so the lab stays within 80 columns.
    widths = [
        max(len(cell) for _, cell in cells[column::_LAB_COLUMNS]) + 2
        for column in range(_LAB_COLUMNS)
    ]
    heading: Fragments = [(f"bold {LAB.style}", LAB.heading)]
    if any(not offer.offers(numbered(n)) for section in SECTIONS for n, _ in section.options(role)):
        heading.append(("class:unavailable", f" ({MISSING} {offer.missing})"))
    lines: list[Fragments] = [heading]
    for row in range(0, len(cells), _LAB_COLUMNS):
        chunk = cells[row : row + _LAB_COLUMNS]
        line: Fragments = [("", "  ")]
        for column, ((style, cell), width) in enumerate(zip(chunk, widths, strict=False)):
            line.append((style, cell))
            if column < len(chunk) - 1:
                line.append(("", " " * (width - len(cell))))
        lines.append(line)
    return lines


def _width(line: Fragments) -> int:
    return sum(get_cwidth(text) for _, text in line)


def tall_menu(role: Role = "admin", offer: Offer = EVERYTHING) -> list[Fragments]:
    """The classic 15 one a line, as in the original, then the lab in columns (the options
    ``role`` may run; those ``offer`` lacks marked)."""
    lines: list[Fragments] = [[], [("class:title", TITLE)]]
    for section in CLASSIC:
        lines += _section_lines(section, role, offer)
    return lines + _lab_lines(role, offer)


def compact_menu(role: Role = "admin", offer: Offer = EVERYTHING) -> list[Fragments]:
    """The classic sections in two columns, then the lab, whose heading takes the last free
    cell of the right column (beside option 14): 19 lines, for a short terminal."""
    lines: list[Fragments] = [[("class:title", TITLE)]]
    lefts = [_section_lines(left, role, offer) for left, _ in _BANDS]
    width = max(_width(line) for left in lefts for line in left) + _GUTTER
    lab = _lab_lines(role, offer)
    for band, (left, (_, right_sections)) in enumerate(zip(lefts, _BANDS, strict=True)):
        right = [
            line for section in right_sections for line in _section_lines(section, role, offer)
        ]
        if band == len(_BANDS) - 1 and len(right) < len(left) and lab:
            right += [[]] * (len(left) - len(right) - 1) + [lab.pop(0)]
        for number in range(max(len(left), len(right))):
            cell = left[number] if number < len(left) else []
            beside = right[number] if number < len(right) else []
            pad = [("", " " * (width - _width(cell)))] if beside else []
            lines.append(cell + pad + beside)
    return lines + lab


def menu_lines(
    size: tuple[int, int] | None, role: Role = "admin", offer: Offer = EVERYTHING
) -> list[Fragments]:
    """The menu for a terminal of ``size`` (columns, rows): the tall one when it fits (and
    always in a script, where there is no screen), else the compact one, so that at 80x24 every
    option shows above the prompt."""
    tall = tall_menu(role, offer)
    if size is None:
        return tall
    columns, rows = size
    compact = compact_menu(role, offer)
    if len(tall) + _BELOW <= rows or max(_width(line) for line in compact) > columns:
        return tall
    return compact


def render_menu(printer: Printer, role: Role = "admin", offer: Offer = EVERYTHING) -> None:
    """Print the menu of ``role``'s options (those ``offer`` lacks marked), fitted to the
    printer's terminal (``menu_lines``)."""
    for line in menu_lines(printer.size(), role, offer):
        printer.fragments(line)

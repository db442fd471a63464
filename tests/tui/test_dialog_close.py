"""A dialog closes once: presses queued behind the first one that closes it do nothing (found by
tests/tui/test_monkey.py: a second Cancel popped the dashboard itself, ``ScreenStackError``)."""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen
from textual.widgets import Button

from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.dialogs.form import Field, FormDialog


async def submit(values: dict[str, str]) -> str:
    return "✅ done"


async def press_twice_at_once(app: App[None], dialog: Screen[object], button: str) -> None:
    results: list[object] = []
    async with app.run_test() as pilot:
        base = app.screen
        await app.push_screen(dialog, callback=results.append)
        await pilot.pause()
        pressed = dialog.query_one(f"#{button}", Button)
        pressed.press()
        pressed.press()  # queued before the first is handled
        await pilot.pause()
        await pilot.pause()
        assert app._exception is None and app.is_running
        assert app.screen_stack == [base]
        assert len(results) == 1


async def test_cancel_pressed_twice_closes_the_form_once() -> None:
    dialog: FormDialog[str] = FormDialog("Title", [Field("name", "Name:")], submit, blink=False)
    await press_twice_at_once(App(), dialog, "cancel")


async def test_no_pressed_twice_answers_the_question_once() -> None:
    await press_twice_at_once(App(), ConfirmDialog("Kill node1?"), "no")

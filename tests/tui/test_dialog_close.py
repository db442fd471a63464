"""Dialogs under keys faster than the app (found by tests/tui/test_monkey.py): a dialog closes
once, as presses queued behind the first that closes it do nothing (a second Cancel popped the
dashboard itself, ``ScreenStackError``), and a choice field takes any key."""

from __future__ import annotations

import asyncio

from textual import events
from textual.app import App
from textual.screen import Screen
from textual.widgets import Button, Select

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


async def test_enter_while_the_form_runs_neither_cancels_nor_repeats_it() -> None:
    """A second Enter while the request is out used to cancel it half done."""
    started: list[dict[str, str]] = []
    release = asyncio.Event()

    async def slow_submit(values: dict[str, str]) -> str:
        started.append(values)
        await release.wait()
        return "✅ created"

    results: list[object] = []
    dialog: FormDialog[str] = FormDialog(
        "Title", [Field("name", "Name:")], slow_submit, blink=False
    )
    app: App[None] = App()
    async with app.run_test() as pilot:
        await app.push_screen(dialog, callback=results.append)
        await pilot.pause()
        await pilot.press("x", "enter")
        await pilot.pause()
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert len(started) == 1 and results == []
        release.set()
        await pilot.pause()
        await pilot.pause()
        assert results == ["✅ created"] and len(started) == 1


async def test_no_pressed_twice_answers_the_question_once() -> None:
    await press_twice_at_once(App(), ConfirmDialog("Kill node1?"), "no")


async def test_page_keys_on_a_choice_before_its_list_is_drawn() -> None:
    """Found by the monkey: Down, Tab, PageUp on a choice field, faster than the app draws,
    raised KeyError inside Textual's list of choices and killed the app."""
    dialog: FormDialog[str] = FormDialog(
        "Title",
        [Field("action", "Action:", "ack", choices=("ack", "nack")), Field("n", "N:")],
        submit,
        blink=False,
    )
    app: App[None] = App()
    async with app.run_test() as pilot:
        await app.push_screen(dialog)
        await pilot.pause()
        dialog.query_one(Select).focus()
        await pilot.pause()
        for key in ("down", "tab", "pageup", "pagedown"):
            app.post_message(events.Key(key, None))  # no wait between keys
        await pilot.pause()
        await pilot.pause()
        assert app._exception is None and app.is_running
        assert dialog.values()["action"] == "ack"


async def test_a_dialog_under_a_question_closes_once_it_is_on_top_again() -> None:
    """Found by the monkey: a worker's question opened over a dialog, then Esc reached the
    dialog; it answered its caller, popped the question instead of itself, and answered again
    on the next Esc (``InvalidStateError``)."""
    results: list[object] = []
    dialog: FormDialog[str] = FormDialog("Title", [Field("name", "Name:")], submit, blink=False)
    question = ConfirmDialog("Kill node1?")
    app: App[None] = App()
    async with app.run_test() as pilot:
        base = app.screen
        await app.push_screen(dialog, callback=results.append)
        await app.push_screen(question)
        await pilot.pause()
        dialog.action_cancel()
        await pilot.pause()
        assert app.screen_stack == [base, dialog, question] and results == []
        question.action_answer(False)
        await pilot.pause()
        await pilot.pause()
        assert app._exception is None
        assert app.screen_stack == [base] and results == [None]

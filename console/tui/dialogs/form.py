"""One dialog shape for every create action: labelled fields, Enter to run, errors inline.

A dialog runs its operation itself and stays open on a mistake, showing the operations layer's
one-line reason under the fields, so a typo costs a keystroke, not the whole form.  On success
it closes with the outcome the app shows as a notification.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static
from textual.widgets._select import SelectCurrent, SelectOverlay

from console.ops.errors import OpsError, failure_text
from engine.client import GateError


@dataclass(frozen=True, slots=True)
class Field:
    """One input: a text box (with completion from ``suggestions``) or, with ``choices``, a list."""

    key: str
    label: str
    default: str = ""
    placeholder: str = ""
    choices: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()


ResultT = TypeVar("ResultT")


class _Choices(SelectOverlay):
    """Textual's list of choices, whose PageUp and PageDown raised KeyError (and killed the app)
    when pressed before the list was laid out: Down, Tab, PageUp on a choice field (found by
    tests/tui/test_monkey.py).  Before that they do nothing."""

    def _move_page(self, direction: Literal[-1, 1]) -> None:
        if (self.highlighted or 0) in self._index_to_line:
            super()._move_page(direction)


class ChoiceField(Select[str]):
    """A Select with the list of choices above."""

    def compose(self) -> ComposeResult:
        # Select.compose, with its own list of choices.
        yield SelectCurrent(self.prompt)
        yield _Choices(type_to_search=self._type_to_search).data_bind(compact=Select.compact)


class FormDialog(ModalScreen[ResultT | None], Generic[ResultT]):
    """A titled form; ``submit`` gets the values by key, and what it answers closes the dialog
    (an outcome to show, or for a read, what was read)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        fields: list[Field],
        submit: Callable[[dict[str, str]], Awaitable[ResultT]],
        *,
        hint: str = "",
        blink: bool = True,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.submit = submit
        self.hint = hint
        self.blink = blink
        self._finished: tuple[ResultT | None] | None = None
        self._submitting = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="title", markup=False)
            if self.hint:
                yield Static(self.hint, classes="hint", markup=False)
            for field in self.fields:
                with Horizontal(classes="field"):
                    yield Label(field.label, classes="field-label")
                    yield self._input(field)
            # What went wrong quotes what was typed: never read as markup ("[/]" crashed it).
            yield Static("", id="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _input(self, field: Field) -> Input | Select[str]:
        if field.choices:
            return ChoiceField(
                [(choice, choice) for choice in field.choices],
                value=field.default or field.choices[0],
                allow_blank=False,
                compact=True,
                id=f"field-{field.key}",
            )
        box = Input(
            value=field.default,
            placeholder=field.placeholder,
            suggester=SuggestFromList(field.suggestions) if field.suggestions else None,
            compact=True,
            id=f"field-{field.key}",
        )
        box.cursor_blink = self.blink
        return box

    def values(self) -> dict[str, str]:
        """The form's current values by field key."""
        values: dict[str, str] = {}
        for field in self.fields:
            widget = self.query_one(f"#field-{field.key}")
            if isinstance(widget, Select):
                values[field.key] = str(widget.value)
            else:
                assert isinstance(widget, Input)
                values[field.key] = widget.value
        return values

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any box runs the form."""
        event.stop()
        self.run_form()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """OK runs the form, Cancel closes it."""
        event.stop()
        if event.button.id == "ok":
            self.run_form()
        else:
            self.close(None)

    def action_cancel(self) -> None:
        """Close without doing anything."""
        self.close(None)

    def close(self, result: ResultT | None) -> None:
        """Close with ``result`` now, or once on top again.

        dismiss() pops whatever screen is on top, and answers this dialog's caller: on top may
        be the size notice, a question a worker asked meanwhile (this dialog is then "current"
        but under it: answered twice, it crashed the app), or the dashboard itself when a
        second press of Cancel, queued behind the first, comes after the dialog is gone."""
        if self.is_active:
            self.dismiss(result)
        else:
            self._finished = (result,)

    def run_form(self) -> None:
        """Run the operation, unless it is already running: a second Enter while the first
        request is out would cancel it half done (was it created or not?), so it waits."""
        if not self._submitting:
            self._submitting = True
            self._submit()

    @work(group="form")
    async def _submit(self) -> None:
        """Close on success, show the reason on failure."""
        error = self.query_one("#form-error", Static)
        error.update("⏳ working…")
        try:
            result = await self.submit(self.values())
        except (OpsError, GateError, ValueError) as exc:
            error.update(f"❌ {failure_text(exc)}")
            return
        finally:
            self._submitting = False
        self.close(result)

    def on_screen_resume(self) -> None:
        """Close a dialog that was closed while the size notice covered it."""
        if self._finished is not None:
            self.dismiss(self._finished[0])

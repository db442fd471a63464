"""What panels ask the app for: one message naming an entry of the operations catalogue.

A panel key (``k`` on the cluster panel), a palette entry ("Kill node1") and the greenhouse
screen's ``s`` all end in a :class:`Requested` message carrying a ``console.ops.catalogue``
entry; the app dispatches on the entry's name with a ``match`` that mypy checks covers every
name, so each operation is wired once and none can be left out.  The panels' keys are generated
from the same catalogue (:func:`catalogue_bindings`).
"""

from __future__ import annotations

from typing import cast

from textual.binding import Binding
from textual.dom import DOMNode
from textual.message import Message

from console.ops.catalogue import EVERYTHING, Offer, Operation, Panel, find, panel_keys
from engine.config_model import Role


class Requested(Message):
    """Run ``operation``; ``target`` is the selected row of its kind, if any."""

    def __init__(self, operation: Operation, target: str | None = None) -> None:
        super().__init__()
        self.operation = operation
        self.target = target


def request(name: str, target: str | None) -> Requested:
    """A request from a key's action, which names the operation as text."""
    return Requested(find(name), target)


def role_allows(node: DOMNode, action: str, parameters: tuple[object, ...]) -> bool:
    """Whether the app's role may run a key's ``request('name')`` action, and the cluster's
    backend has what it needs: the panels' ``check_action``, so the footer shows only the keys
    the console's token may use on this cluster."""
    if action != "request" or not parameters:
        return True
    # GateConsole's; another app: all of them.
    role = cast(Role, getattr(node.app, "role", "admin"))
    offer = cast(Offer, getattr(node.app, "offer", EVERYTHING))
    try:
        entry = find(str(parameters[0]))
    except KeyError:
        return True
    return entry.allowed(role) and offer.offers(entry)


def catalogue_bindings(panel: Panel | None, *, show: bool = True) -> list[Binding]:
    """The keys of a panel's operations, as the catalogue lists them (action ``request``)."""
    return [
        Binding(key.key, f"request('{op.name}')", key.label, show=show and key.footer)
        for op, key in panel_keys(panel)
    ]

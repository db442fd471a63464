"""One check for every command, wherever it comes from: a node runs it on each command it is
asked to propose (engine/protocol/commands.py says what it checks), so a command that fails it
never enters the log; and on each entry it applies (:func:`check_entry`), so one already there
(written by an older version) becomes the same error result on every node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.protocol import commands, definitions
from engine.protocol.errors import invalid

_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "create_store": commands.check_create_store,
    "delete_store": commands.check_delete_store,
    "snapshot_put": commands.check_snapshot_put,
    "snapshot_delete": commands.check_snapshot_delete,
    definitions.PUT: definitions.check_put,
    definitions.DELETE: definitions.check_delete,
    definitions.PROGRESS: definitions.check_progress,
}


def check_command(cmd: Any, *, max_events: int | None) -> dict[str, Any]:
    """``cmd`` if it is a well-formed command; else a 400 ``invalid_request`` naming the field.

    ``max_events`` is the config's limit on a proposal; applying passes None, since an entry
    must apply the same on every node whatever their configs say.
    """
    if not isinstance(cmd, dict):
        raise invalid("a command must be a JSON object", field="command")
    op = cmd.get("op")
    if op == "append":
        return commands.check_append(cmd, max_events=max_events)
    check = _CHECKS.get(op) if isinstance(op, str) else None
    if check is None:
        ops = ", ".join(sorted([*_CHECKS, "append"]))
        raise invalid(f"op must be one of {ops}", field="op")
    return check(cmd)


def check_entry(cmd: Any) -> dict[str, Any]:
    """:func:`check_command` for an entry being applied, but only the store of an append (the
    hot path): the rest of an append that fails on its content is undone by its savepoint, or by
    SQLite itself for a one-event append (EventStore.apply_batch), and every append proposed
    since the check exists has passed it."""
    if isinstance(cmd, dict) and cmd.get("op") == "append":
        commands.validate_store_id(cmd.get("store"))
        return cmd
    return check_command(cmd, max_events=None)

"""What consumers, the gateway and the leader agree on: nack actions and WebSocket close codes.

The consume WebSocket is closed with one of these codes (see docs/ENGINE.md, "Subscriptions"):

=====  ==========================================================================
1012   the leader changed (or went away): reconnect, delivery resumes from the checkpoint
4000   the consumer stopped itself with ``nack stop``: do not reconnect
4404   the subscription (or its store) was deleted
=====  ==========================================================================
"""

from __future__ import annotations

from typing import Any

import orjson

from engine.protocol.errors import invalid

NACK_ACTIONS = ("retry", "park", "skip", "stop")

CLOSE_LEADER_CHANGED = 1012
CLOSE_STOPPED = 4000
CLOSE_NOT_FOUND = 4404


def parse_client_frame(text: str) -> dict[str, Any]:
    """Validate an ack or nack from a client."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"not valid JSON: {exc}") from None
    if not isinstance(frame, dict) or frame.get("type") not in ("ack", "nack"):
        raise invalid('send {"type": "ack" | "nack", "event_ids": [...], "action"?}')
    event_ids = frame.get("event_ids")
    if not isinstance(event_ids, list) or not all(isinstance(i, str) for i in event_ids):
        raise invalid("event_ids must be a list of event ids")
    out: dict[str, Any] = {"type": frame["type"], "event_ids": event_ids}
    if frame["type"] == "nack":
        action = frame.get("action", "retry")
        if action not in NACK_ACTIONS:
            raise invalid(f"action must be one of {', '.join(NACK_ACTIONS)}")
        out["action"] = action
    return out

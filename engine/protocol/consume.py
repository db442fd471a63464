"""What consumers, the gateway and the leader agree on: nack actions and WebSocket close codes.

The consume WebSocket is closed with one of these codes (see docs/ENGINE.md, "Subscriptions"):

=====  ==========================================================================
1012   the leader changed (or went away): reconnect, delivery resumes from the checkpoint
4000   the consumer stopped itself with ``nack stop``: do not reconnect
4404   the subscription (or its store) was deleted
=====  ==========================================================================
"""

from __future__ import annotations

NACK_ACTIONS = ("retry", "park", "skip", "stop")

CLOSE_LEADER_CHANGED = 1012
CLOSE_STOPPED = 4000
CLOSE_NOT_FOUND = 4404

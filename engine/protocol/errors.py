"""The error codes of the public API and the JSON error body every layer uses.

An error travels as ``{"code": ..., "message": ..., **details}``: inside a node's TCP answer, in
a command's apply result, and to HTTP clients as ``{"error": {...}}`` with the status below.
"""

from __future__ import annotations

from typing import Any

# code -> HTTP status
STATUS: dict[str, int] = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,  # a known token whose role does not allow the route (names the role)
    "not_found": 404,
    "store_not_found": 404,
    "snapshot_not_found": 404,
    "subscription_not_found": 404,
    "node_not_found": 404,
    "message_not_found": 404,  # links/drop: the message is not in flight (any more)
    "wrong_expected_version": 409,
    "store_exists": 409,
    "subscription_exists": 409,
    "node_not_managed": 409,
    "node_down": 409,  # a node an operation needs is down, paused or cut off
    # Membership changes (POST/DELETE /api/cluster/nodes): one at a time, never below a quorum.
    "node_exists": 409,
    "port_in_use": 409,
    "change_in_progress": 409,
    "quorum_too_small": 409,
    "node_is_learner": 409,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "payload_too_large": 413,
    "rate_limited": 429,  # security.rateLimit: Retry-After says when
    "too_many_websockets": 429,  # limits.maxWebSocketsPerClient
    "internal": 500,
    # A cluster operation the gateway's backend does not have (engine/backends/port.py).
    "not_supported_by_backend": 501,
    "unavailable": 503,
    "store_damaged": 503,  # this node's copy failed its checks: read another node's
    "timeout": 504,
    # Between gateway and nodes only; the gateway turns these into retries or 503s.
    "not_leader": 503,
    "stale": 503,
}


# Codes that mean "try elsewhere or later", not "the request is wrong": the gateway retries them
# on the leader (engine/gateway/leader_retry.py) or, for reads, on another node
# (engine/gateway/routing.py), and GateClient retries them on the gateway.
RETRYABLE = frozenset({"not_leader", "unavailable", "stale", "timeout", "store_damaged"})


class GateError(Exception):
    """An error with an API code; ``details`` are extra fields of the error body."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 500)

    def to_dict(self) -> dict[str, Any]:
        """The error as the inner object of the JSON error body."""
        return {"code": self.code, "message": self.message, **self.details}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> GateError:
        """Rebuild an error from the inner object of an error body."""
        details = {k: v for k, v in body.items() if k not in ("code", "message")}
        return cls(str(body.get("code", "internal")), str(body.get("message", "")), **details)

    def __repr__(self) -> str:
        return f"GateError({self.code!r}, {self.message!r})"


def invalid(message: str, **details: Any) -> GateError:
    """A 400 ``invalid_request`` error."""
    return GateError("invalid_request", message, **details)

"""The body of ``POST /api/cluster/nodes``: a node to add, and where it listens.

``{"node_id": ..., "http": {"host": ..., "port": ...}, "tcp": {"host": ..., "port": ...}}``
(docs/API.md, "Membership").  Checked by the gateway and again by the leader that writes it
into the log, like a command.
"""

from __future__ import annotations

from typing import Any

from engine.config import is_valid_id
from engine.protocol.errors import invalid

HostPort = tuple[str, int]
_FIELDS = ("node_id", "http", "tcp")


def parse_new_node(body: Any) -> tuple[str, HostPort, HostPort]:
    """``(node_id, (http host, port), (tcp host, port))``; a 400 naming the field otherwise."""
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object with node_id, http and tcp")
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise invalid(
            f"unknown field {unknown[0]!r} (allowed: {', '.join(_FIELDS)})", field=unknown[0]
        )
    node_id = body.get("node_id")
    if not isinstance(node_id, str) or not is_valid_id(node_id):
        raise invalid(
            f"node_id must be a node id ([A-Za-z0-9_-]{{1,64}}), got {str(node_id)[:80]!r}",
            field="node_id",
        )
    http = _endpoint(body.get("http"), "http")
    tcp = _endpoint(body.get("tcp"), "tcp")
    if http == tcp:
        raise invalid("http and tcp must be different ports", field="tcp")
    return node_id, http, tcp


def _endpoint(raw: Any, field: str) -> HostPort:
    if not isinstance(raw, dict) or set(raw) != {"host", "port"}:
        raise invalid(f"{field} must be an object {{host, port}}", field=field)
    host, port = raw["host"], raw["port"]
    if not isinstance(host, str) or not host or len(host) > 255:
        raise invalid(f"{field}.host must be a host name or address", field=field)
    if type(port) is not int or not 1 <= port <= 65535:
        raise invalid(f"{field}.port must be an integer in 1..65535, got {port!r}", field=field)
    return host, port

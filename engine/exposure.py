"""What a config leaves open on a network: the warnings of a start (#18, README "Security").

An endpoint bound to loopback is reachable from this machine only; one bound to any other
address (``0.0.0.0`` included) is reachable by whoever can route to it. Such an endpoint without
an API token lets anyone use it, and without TLS its traffic (tokens included) is clear text.
The gateway and the nodes log these at start, and the gateway lists them in ``/api/cluster``
(``insecure``), unless ``--insecure-ok`` or ``security.insecureOk`` says it is on purpose.
"""

from __future__ import annotations

import ipaddress

from engine.config_model import ClusterConfig, Endpoint, NodeConfig


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _exposed(endpoint: Endpoint) -> bool:
    return endpoint.enabled and not is_loopback(endpoint.host)


def insecure_reasons(config: ClusterConfig, node: NodeConfig | None = None) -> list[str]:
    """The risks of ``config`` in one line each: of the whole cluster (``node`` None, the
    gateway's view), or of one node's own endpoints (a node joining at run time included)."""
    security = config.security
    token, tls = bool(security.all_tokens), security.tls is not None
    reasons: list[str] = []
    gateway = config.gateway.http
    if node is None and _exposed(gateway):
        where = f"the gateway's API on {gateway.host}:{gateway.port}"
        if not token:
            reasons.append(
                f"{where} takes requests without a token: anyone who reaches it can append, "
                "delete stores and kill nodes (set security.authToken or security.tokens)"
            )
        if not tls:
            reasons.append(
                f"{where} is plain HTTP: tokens and events cross the network in clear text "
                "(set security.tls)"
            )
    for member in config.nodes if node is None else (node,):
        if _exposed(member.http):
            where = f"{member.node_id}'s HTTP on {member.http.host}:{member.http.port}"
            if not token:
                reasons.append(f"{where} serves every store's events without a token")
            if not tls:
                reasons.append(f"{where} is plain HTTP (set security.tls)")
        if _exposed(member.tcp) and not tls:
            where = f"{member.node_id}'s TCP on {member.tcp.host}:{member.tcp.port}"
            reasons.append(
                f"{where} carries replication in clear text: signed with the cluster secret, "
                "not encrypted (set security.tls)"
            )
    return reasons

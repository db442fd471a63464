"""What a config leaves open on a network: the warnings of a start (#18, README "Security").

An endpoint bound to loopback is reachable from this machine only; one bound to any other
address (``0.0.0.0`` included) is reachable by whoever can route to it. Such an endpoint without
an API token lets anyone use it, and without TLS its traffic (tokens included) is clear text.
The gateway and the nodes log these at start, and the gateway lists them in ``/api/cluster``
(``insecure``), unless ``--insecure-ok`` or ``security.insecureOk`` says it is on purpose.
With ``backend: jetstream`` the nodes are nats-servers, whose risks are their own
(``jetstream_reasons``): Gate's token and TLS settings do not reach them.
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
    reasons = _gateway_reasons(config) if node is None else []
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


def _gateway_reasons(config: ClusterConfig) -> list[str]:
    security = config.security
    reasons: list[str] = []
    gateway = config.gateway.http
    if _exposed(gateway):
        where = f"the gateway's API on {gateway.host}:{gateway.port}"
        if not security.all_tokens:
            reasons.append(
                f"{where} takes requests without a token: anyone who reaches it can append, "
                "delete stores and kill nodes (set security.authToken or security.tokens)"
            )
        if security.tls is None:
            reasons.append(
                f"{where} is plain HTTP: tokens and events cross the network in clear text "
                "(set security.tls)"
            )
    return reasons


def jetstream_reasons(config: ClusterConfig) -> list[str]:
    """The risks of a ``backend: jetstream`` config, the gateway's and its nats-servers'.

    A server's client port (``tcp``) is the store itself: a client there reads and writes every
    event past the gateway and its tokens, unless the servers demand a NATS user
    (``jetstream.user``/``password`` or ``credsFile``).  The servers the gateway starts serve
    no TLS (clients nor routes); an attached cluster's client TLS is its own (``jetstream.ca``
    says the gateway verifies it).  The monitoring port (``http``) has no authentication at all.
    """
    js = config.jetstream
    starts = config.gateway.starts_nodes
    authenticated = js.user is not None or js.creds is not None
    client_tls = js.ca is not None
    reasons = _gateway_reasons(config)
    for member in config.nodes:
        name = member.node_id
        if _exposed(member.tcp):
            where = f"{name}'s NATS client port on {member.tcp.host}:{member.tcp.port}"
            if not authenticated:
                reasons.append(
                    f"{where} takes any client: whoever reaches it reads and writes every "
                    "store past the gateway's tokens (set jetstream.user and jetstream.password)"
                )
            if not client_tls:
                reasons.append(
                    f"{where} is plain NATS: events and the NATS password cross the network "
                    "in clear text"
                    + ("" if starts else " (serve TLS on the servers, and set jetstream.ca)")
                )
        if _exposed(member.http):
            where = f"{name}'s NATS monitoring on {member.http.host}:{member.http.port}"
            reasons.append(
                f"{where} answers anyone, without authentication: connections, accounts and "
                "streams (bind it to 127.0.0.1)"
            )
        cluster = member.cluster
        if starts and cluster is not None and _exposed(cluster):
            where = f"{name}'s NATS route port on {cluster.host}:{cluster.port}"
            reasons.append(
                f"{where} carries JetStream's replication in clear text and takes routes "
                "from any server that reaches it (bind it to a private network)"
            )
    return reasons

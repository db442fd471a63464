"""Option 14 and the cluster lab (16-23): node health, node actions, greenhouse snapshots."""

from __future__ import annotations

from console.ops.cluster import ClusterStatus, NodeActionResult, NodeRow
from console.ops.formatting import latency_text
from console.ops.streams import existing_stream
from console.repl.context import Context, parsed
from console.repl.tables import Cell
from domain.greenhouse.aggregate import Greenhouse

# Where the no-majority words point a person.
START_A_NODE = "(option 19 starts a node)"


def _updown(up: bool) -> Cell:
    return ("class:ok", "🟢 up") if up else ("class:down", "🔴 down")


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def print_status(ctx: Context, status: ClusterStatus) -> None:
    """The leader line and the node-health table."""
    total = len(status.nodes)
    if status.leader:
        ctx.printer.line(
            f"Leader: {status.leader} (term {status.term}) · {status.nodes_up}/{total} nodes up",
            "class:leader",
        )
    else:
        ctx.printer.warn(f"No leader right now (term {status.term}) · {status.nodes_up}/{total} up")
    words = status.no_majority()
    if words is not None:
        ctx.printer.error(f"{words} {START_A_NODE}")

    def name(node: NodeRow) -> Cell:
        # The dashboard's marks: ★ the leader, ☆ the preferred leader when it does not lead.
        if node.node_id == status.leader:
            return ("class:leader", "★ " + node.marked_id)
        return ("☆ " if node.preferred else "  ") + node.marked_id

    def role(node: NodeRow) -> Cell:
        text = node.shown_role
        if text == "leader":
            return ("class:leader", text)
        return ("class:down", text) if text == "down" else text

    ctx.printer.table(
        ("Node", "Role", "HTTP", "TCP", "Term", "Commit", "Applied", "Lag", "Latency"),
        [
            (
                name(n),
                role(n),
                _updown(n.http_up),
                _updown(n.tcp_up),
                _dash(n.term),
                _dash(n.commit_position),
                _dash(n.applied_position),
                _dash(n.lag),
                latency_text(n.http_latency_ms),
            )
            for n in status.nodes
        ],
    )
    for line in status.legend.splitlines():
        ctx.printer.hint(line)


async def cluster_status(ctx: Context) -> None:
    """14. Get Cluster Status."""
    ctx.printer.heading("🔗 Cluster Status")
    ctx.printer.line(f"Gateway: {ctx.ops.url}")
    print_status(ctx, await ctx.ops.cluster.status())


async def node_detail(ctx: Context) -> None:
    """16. Node Health Detail."""
    ctx.printer.heading("🩺 Node Health Detail")
    status = await ctx.ops.cluster.status()
    print_status(ctx, status)
    node = await ctx.answer(
        "Enter node id: ",
        parsed(status.node),
        history="node",
        completions=[n.node_id for n in status.nodes],
    )
    rows: list[tuple[str, Cell]] = [
        ("Node", node.node_id),
        ("Role", node.shown_role + (" (preferred leader)" if node.preferred else "")),
        ("HTTP", f"{node.http_addr} · {'up' if node.http_up else 'down'}"),
        ("HTTP latency", latency_text(node.http_latency_ms)),
        ("TCP", f"{node.tcp_addr} · {'up' if node.tcp_up else 'down'}"),
        ("TCP latency", latency_text(node.tcp_latency_ms)),
        ("Term", _dash(node.term)),
        ("Commit position", _dash(node.commit_position)),
        ("Applied position", _dash(node.applied_position)),
        ("Lag", _dash(node.lag)),
        ("Fresh for reads", "yes" if node.fresh else "no"),
        ("Disk", node.disk_full or ("ok" if node.up else "-")),
        ("Managed by gateway", "yes" if node.managed else "no"),
        ("Process id", _dash(node.pid)),
        ("Restarted by gateway", _restarts(node)),
    ]
    ctx.printer.table(("Field", "Value"), rows)


def _restarts(node: NodeRow) -> str:
    """``2 times (last exit: signal 9)``; ``-`` for a node its gateway does not manage."""
    if not node.managed:
        return "-"
    times = "never" if not node.restarts else f"{node.restarts} time" + "s" * (node.restarts > 1)
    return f"{times} (last exit: {node.last_exit})" if node.last_exit else times


_DEFAULTS_TO_LEADER = ("stop", "kill", "restart", "pause")
_CONFIRMED = ("stop", "kill")  # asked first at a terminal: the rest are undone by a key
_PAST = {
    "stop": "Stopped",
    "kill": "Killed",
    "start": "Started",
    "restart": "Restarted",
    "pause": "Paused",
    "resume": "Resumed",
}


def _report(ctx: Context, result: NodeActionResult) -> None:
    done = _PAST[result.action]
    who = f"{result.node_id} (the leader)" if result.was_leader else result.node_id
    if result.no_majority is not None:
        ctx.printer.warn(f"{done} {who}; {result.no_majority}")
        ctx.printer.hint(
            f"Until one is back no leader is elected and nothing is written {START_A_NODE}"
        )
        return
    leader = f"leader {result.leader} (term {result.term})" if result.leader else "no leader"
    if result.action in ("stop", "kill", "pause") and result.was_leader:
        if result.settled:
            ctx.printer.ok(
                f"{done} {who}; {result.leader} took over in {result.elapsed:.1f} s "
                f"(term {result.term})"
            )
        else:
            ctx.printer.warn(f"{done} {who}; no new leader after {result.elapsed:.0f} s")
        return
    if result.settled:
        ctx.printer.ok(f"{done} {who}; {leader}")
    else:
        ctx.printer.warn(f"{done} {who}, but the cluster has not settled yet; {leader}")


async def node_action(ctx: Context, action: str) -> None:
    """17-22. Stop, kill, start, restart, pause or resume a node, and wait for the effect."""
    ctx.printer.heading(f"🧪 {action.capitalize()} Node")
    status = await ctx.ops.cluster.status()
    ctx.printer.line("Nodes: " + ", ".join(f"{n.node_id} ({n.shown_role})" for n in status.nodes))
    ids = [n.node_id for n in status.nodes]
    default = status.default_node(action)
    if action in _DEFAULTS_TO_LEADER:
        prompt = "Enter node id (default: the leader): "
    elif default is not None:
        prompt = f"Enter node id (default: {default}): "
    else:
        prompt = "Enter node id: "

    def check(text: str) -> str:
        if not text:
            return default or ""  # "" is the leader, resolved when the action is done
        return status.node(text).node_id

    optional = action in _DEFAULTS_TO_LEADER or default is not None
    answer = await ctx.answer(
        prompt, parsed(check), history="node", completions=ids, optional=optional
    )
    if action in _CONFIRMED:
        who = answer or (f"{status.leader} (the leader)" if status.leader else "")
        if who and not await ctx.confirmed(f"{action.capitalize()} {who}?"):
            ctx.printer.warn(f"Cancelled: {who} left as it was")
            return
    if ctx.terminal.interactive:
        ctx.printer.hint("Waiting for the cluster to settle (Ctrl+C to stop waiting)…")
    _report(ctx, await ctx.ops.cluster.act(answer or None, action))


def _reading(house: Greenhouse, measure: str) -> str:
    current = getattr(house, f"current_{measure}")
    target = getattr(house, f"target_{measure}")
    return f"{_dash(current)} (target {_dash(target)})"


async def greenhouse(ctx: Context) -> None:
    """23. Greenhouse & Snapshots: the aggregate, its snapshots, and a new snapshot on request."""
    ctx.printer.heading("🌱 Greenhouse & Snapshots")
    streams = await ctx.ops.streams.names()
    ctx.printer.line(f"Streams: {', '.join(streams) or 'none yet'}")
    stream = await ctx.answer(
        "Enter stream name: ",
        parsed(lambda text: existing_stream(text, streams)),
        history="stream",
        completions=streams,
    )
    view = await ctx.ops.streams.greenhouse(stream)
    house = view.greenhouse
    on = [f"{name} {level}" for name, level in house.actuators.items() if level is not None]
    ctx.printer.table(
        ("Field", "Value"),
        [
            ("Greenhouse", f"{house.greenhouse_id} · {house.name or '-'}"),
            ("Place", f"{house.location or '-'}, {house.city or '-'}, {house.country or '-'}"),
            ("Status", house.status),
            *(
                (measure.capitalize(), _reading(house, measure))
                for measure in ("temperature", "humidity", "light")
            ),
            ("Actuators on", ", ".join(on) or "none"),
            ("Version", str(house.version)),
        ],
    )
    if view.snapshots:
        ctx.printer.table(
            ("Snapshot version", "Created", "Status then"),
            [
                (
                    str(s["source_version"]),
                    str(s.get("created_at", "")),
                    str((s.get("metadata") or {}).get("status", "-")),
                )
                for s in view.snapshots
            ],
        )
    else:
        ctx.printer.warn(f"No snapshots of {stream} yet")
    if await ctx.yes("Take a snapshot now? (y/N): "):
        taken = await ctx.ops.streams.take_snapshot(stream)
        ctx.printer.ok(f"Snapshot of {stream} recorded at version {taken.version}")

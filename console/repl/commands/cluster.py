"""Option 14 and the cluster lab: node health, node actions, leadership transfer, partitions,
link faults, slow motion, greenhouse snapshots, node logs."""

from __future__ import annotations

from console.ops.catalogue import find, operation
from console.ops.cluster import (
    MAX_DELAY_MS,
    MAX_TEMPO,
    NODE_LOG_KEPT,
    SLOW_TEMPO,
    ClusterStatus,
    NodeLogFollower,
    NodeRow,
    parse_address,
    parse_direction,
    parse_percent,
    tempo_words,
    uptime_text,
)
from console.ops.formatting import latency_text
from console.ops.numbers import parse_whole
from console.ops.outcomes import (
    kept,
    leadership_transferred,
    link_fault_set,
    links_cut,
    links_healed,
    member_added,
    member_removed,
    node_action_done,
    snapshot_taken,
    tempo_set,
)
from console.ops.streams import existing_stream
from console.repl.context import Context, parsed
from console.repl.tables import Cell
from domain.greenhouse.aggregate import Greenhouse

# Where the no-majority words point a person.
START_A_NODE = f"({operation('node_start').option} starts a node)"
HEAL_OPTION = operation("heal_node").option
NODE_LOG_LINES = 20  # the newest lines option 28 shows by default: they fit an 80x24 screen
_LOG_STYLES = {"warning": "class:warn", "error": "class:error"}


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
    # A nats-server (backend jetstream) shows none of the Raft internals Gate's nodes report.
    raft = node.up and not status.jetstream
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
        ("Log held", node.log_span),
        # Its inside, as the dashboard's Cluster panel shows it (docs/CONSOLE.md).
        ("Voted for", (node.voted_for or "nobody") if raft else "-"),
        ("Uptime", uptime_text(node.uptime_s) if node.up else "-"),
        ("Election timer", node.timer_words if raft else "-"),
        ("Leader's match/next", (status.match_next(node.node_id) or "-") if raft else "-"),
        ("Voter", "yes" if node.voter else "no: a learner, catching up"),
        ("Raft links", node.cuts_text if raft else "-"),
        ("Fresh for reads", "-" if status.jetstream else "yes" if node.fresh else "no"),
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
    if find(f"node_{action}").destructive:  # asked first at a terminal: the rest undo by a key
        who = answer or (f"{status.leader} (the leader)" if status.leader else "")
        if who and not await ctx.confirmed(f"{action.capitalize()} {who}?"):
            ctx.printer.outcome(kept(f"{who} left as it was"))
            return
    if ctx.terminal.interactive:
        ctx.printer.hint("Waiting for the cluster to settle (Ctrl+C to stop waiting)…")
    result = await ctx.ops.cluster.act(answer or None, action)
    ctx.printer.outcome(node_action_done(result, START_A_NODE))


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
            [(str(s.version), s.created_at, s.status or "-") for s in view.snapshots],
        )
    else:
        ctx.printer.warn(f"No snapshots of {stream} yet")
    if await ctx.yes("Take a snapshot now? (y/N): "):
        taken = await ctx.ops.streams.take_snapshot(stream)
        ctx.printer.outcome(snapshot_taken(stream, taken.version))


async def node_log(ctx: Context) -> None:
    """28. Node Log: a node's newest log lines, the reasons behind what option 14 shows."""
    ctx.printer.heading("📜 Node Log")
    status = await ctx.ops.cluster.status()
    ctx.printer.line("Nodes: " + ", ".join(f"{n.node_id} ({n.shown_role})" for n in status.nodes))
    leader = status.leader

    def check(text: str) -> str:
        if not text:
            return leader or status.node(text).node_id  # no leader: the error names the nodes
        return status.node(text).node_id

    prompt = f"Enter node id (default: {leader}): " if leader else "Enter node id: "
    node = await ctx.answer(
        prompt,
        parsed(check),
        history="node",
        completions=[n.node_id for n in status.nodes],
        optional=leader is not None,
    )
    count = await ctx.ask_int(
        f"Number of lines (default {NODE_LOG_LINES}): ",
        "number of lines",
        NODE_LOG_LINES,
        minimum=1,
        maximum=NODE_LOG_KEPT,
    )
    # The dashboard's follower, read once: a node that does not answer is its error line.
    update = await NodeLogFollower(ctx.ops.cluster, first_lines=count).poll(node)
    if update.error is not None:
        ctx.printer.error(update.error)
        return
    if not update.lines:
        ctx.printer.warn(f"Nothing in the log of {node} yet")
        return
    ctx.printer.line(f"📜 The newest {len(update.lines)} lines of {node}'s log:", "class:ok")
    for line in update.lines:
        ctx.printer.fragments(
            [("class:hint", f"{line.clock} "), (_LOG_STYLES.get(line.level, ""), line.text)]
        )


def _nodes_line(ctx: Context, status: ClusterStatus) -> None:
    """``Nodes: node1 (leader), node2 (follower, isolated)``."""
    ctx.printer.line(
        "Nodes: "
        + ", ".join(
            f"{n.node_id} ({n.shown_role}{', ' + n.cuts_text if n.cut else ''})"
            for n in status.nodes
        )
    )


async def transfer_leader(ctx: Context) -> None:
    """29. Transfer Leadership: the leader hands over to a node, and it leads."""
    ctx.printer.heading("👑 Transfer Leadership")
    status = await ctx.ops.cluster.status()
    _nodes_line(ctx, status)
    others = [n.node_id for n in status.voters if n.up and n.node_id != status.leader]
    default = others[0] if len(others) == 1 else None
    prompt = f"Enter node id (default: {default}): " if default else "Enter node id: "
    node = await ctx.answer(
        prompt,
        parsed(lambda text: status.node(text).node_id if text else default or ""),
        history="node",
        completions=[n.node_id for n in status.nodes],
        optional=default is not None,
    )
    if ctx.terminal.interactive:
        ctx.printer.hint("Waiting for it to take over (Ctrl+C to stop waiting)…")
    ctx.printer.outcome(leadership_transferred(await ctx.ops.cluster.transfer(node)))


async def isolate_node(ctx: Context) -> None:
    """30. Isolate Node: cut a node's Raft links, to every peer or some, one way or both."""
    ctx.printer.heading("✂ Isolate Node")
    status = await ctx.ops.cluster.status()
    _nodes_line(ctx, status)
    leader = status.leader

    def check(text: str) -> str:
        if not text:
            return leader or status.node(text).node_id  # no leader: the error names the nodes
        return status.node(text).node_id

    node = await ctx.answer(
        f"Enter node id (default: {leader}): " if leader else "Enter node id: ",
        parsed(check),
        history="node",
        completions=[n.node_id for n in status.nodes],
        optional=leader is not None,
    )
    peers = [n.node_id for n in status.nodes if n.node_id != node]
    chosen = await ctx.answer(
        f"Cut from peers ({', '.join(peers)}; default: all): ",
        parsed(lambda text: status.peers(node, text)),
        history="peers",
        completions=["all", *peers],
        optional=True,
    )
    direction = await ctx.answer(
        "Direction (both/in/out, default both): ",
        parsed(parse_direction),
        history="direction",
        completions=["both", "in", "out"],
        optional=True,
    )
    result = await ctx.ops.cluster.isolate(node, chosen, direction)
    ctx.printer.outcome(links_cut(result, HEAL_OPTION))


async def set_tempo(ctx: Context) -> None:
    """34. Slow Motion: run the cluster N times slower (its tempo), 1 for full speed."""
    ctx.printer.heading("🐢 Tempo")
    status = await ctx.ops.cluster.status()
    ctx.printer.hint(
        f"Now {tempo_words(status.tempo)} · elections, heartbeats, messages "
        "and the gateway's probes all N times slower"
    )
    scale = await ctx.answer(
        f"Times slower (1 to {MAX_TEMPO}, 1: full speed; default {SLOW_TEMPO}): ",
        parsed(
            lambda text: parse_whole(
                text, "tempo", default=SLOW_TEMPO, minimum=1, maximum=MAX_TEMPO
            )
        ),
        history="tempo",
        optional=True,
    )
    ctx.printer.outcome(tempo_set(await ctx.ops.cluster.set_tempo(scale)))


async def link_fault(ctx: Context) -> None:
    """35. Link Faults: a node's Raft link to a peer made lossy, slow or repeating, one way."""
    ctx.printer.heading("≈ Link Faults")
    status = await ctx.ops.cluster.status()
    _nodes_line(ctx, status)
    for row in status.nodes:
        if row.link_faults:
            ctx.printer.line(f"  {row.node_id} {row.faults_text}")
    node = await ctx.answer(
        "From node: ",
        parsed(lambda text: status.node(text).node_id),
        history="node",
        completions=[n.node_id for n in status.nodes],
    )
    peers = [n.node_id for n in status.nodes if n.node_id != node]
    to = await ctx.answer(
        f"To peer ({', '.join(peers)}; default: all): ",
        parsed(lambda t: status.link_peer(node, t)),
        history="peers",
        completions=["all", *peers],
        optional=True,
    )
    drop = await ctx.answer(
        "Drop % (default 0): ",
        parsed(lambda t: parse_percent(t, "drop")),
        history="drop",
        optional=True,
    )
    delay = await ctx.answer(
        "Delay ms (default 0): ",
        parsed(lambda t: parse_whole(t, "delay (ms)", default=0, maximum=MAX_DELAY_MS)),
        history="delay",
        optional=True,
    )
    duplicate = await ctx.answer(
        "Duplicate % (default 0; all zero clears): ",
        parsed(lambda t: parse_percent(t, "duplicate")),
        history="duplicate",
        optional=True,
    )
    values = (drop, delay, duplicate)
    result = await ctx.ops.cluster.set_link_fault(node, to or "all", *values)
    ctx.printer.outcome(link_fault_set(result))


async def heal_node(ctx: Context) -> None:
    """31. Heal Node: restore every cut Raft link of a node."""
    ctx.printer.heading("🩹 Heal Node")
    status = await ctx.ops.cluster.status()
    _nodes_line(ctx, status)
    default = status.default_node("heal")
    node = await ctx.answer(
        f"Enter node id (default: {default}): " if default else "Enter node id: ",
        parsed(lambda text: status.node(text).node_id if text else default or ""),
        history="node",
        completions=[n.node_id for n in status.nodes],
        optional=default is not None,
    )
    ctx.printer.outcome(links_healed(await ctx.ops.cluster.heal(node)))


async def add_node(ctx: Context) -> None:
    """32. Add Node: a new member, which joins as a learner and votes once caught up."""
    ctx.printer.heading("➕ Add Node")
    status = await ctx.ops.cluster.status()
    _nodes_line(ctx, status)
    node_id, http, tcp = status.next_member()
    chosen = await ctx.answer(
        f"Enter node id (default: {node_id}): ",
        parsed(status.new_member_id),
        history="node",
        optional=True,
    )
    http_at = await ctx.answer(
        f"HTTP host:port (default {http}): ",
        parsed(lambda text: parse_address(text or http)),
        history="address",
        optional=True,
    )
    tcp_at = await ctx.answer(
        f"TCP host:port (default {tcp}): ",
        parsed(lambda text: parse_address(text or tcp)),
        history="address",
        optional=True,
    )
    answer = await ctx.ops.cluster.add_node(chosen, http=http_at, tcp=tcp_at)
    ctx.printer.outcome(member_added(chosen, answer))


async def remove_node(ctx: Context) -> None:
    """33. Remove Node: take a member out of the cluster (asked first at a terminal)."""
    ctx.printer.heading("➖ Remove Node")
    status = await ctx.ops.cluster.status()
    _nodes_line(ctx, status)
    node = await ctx.answer(
        "Enter node id: ",
        parsed(lambda text: status.node(text).node_id),
        history="node",
        completions=[n.node_id for n in status.nodes],
    )
    if not await ctx.confirmed(f"Remove {node} from the cluster?"):
        ctx.printer.outcome(kept(f"{node} left as it was"))
        return
    ctx.printer.outcome(member_removed(node, await ctx.ops.cluster.remove_node(node)))

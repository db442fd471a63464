"""The create dialogs, with the menu shell's prompts and defaults (docs/CONSOLE.md), each running
its operation through the operations layer."""

from __future__ import annotations

from console.ops import outcomes
from console.ops.catalogue import operation
from console.ops.cluster import DIRECTIONS as CUT_DIRECTIONS
from console.ops.cluster import (
    MAX_TEMPO,
    SLOW_TEMPO,
    parse_address,
    parse_direction,
    parse_fault,
    tempo_words,
)
from console.ops.errors import OpsError
from console.ops.formatting import data_hint, rate_text
from console.ops.numbers import parse_whole
from console.ops.observers import ALL_STREAMS, stream_selector
from console.ops.operations import Operations
from console.ops.outcomes import Outcome
from console.ops.patterns import parse_data, parse_pattern
from console.ops.producers import DEFAULT_COUNT, MAX_COUNT
from console.ops.stores import StoreRow
from console.ops.streams import (
    DEFAULT_APPEND,
    DEFAULT_FETCH,
    DIRECTIONS,
    NewStreamError,
    StreamPage,
)
from console.ops.streams import MAX_COUNT as MAX_EVENTS
from console.ops.subscriptions import parse_start
from console.tui.dialogs.form import Field, FormDialog
from console.tui.streams.paging import PageRequest
from domain.greenhouse.catalogue import EVENT_TYPES

PAYLOAD_HINT = (
    'Examples: %{operator: "John"} · %{temperature: 25} · %{intensity: _} (any value) · '
    'JSON with operators: {"humidity": {"$gte": 80}}'
)
_OBSERVER_NAME = "Enter observer name:"
_STREAM_NAME = "Enter stream name:"
# The menu shell's questions for option 30.
_PEERS = "Cut from peers (default: all):"
_DIRECTION = "Direction (both/in/out):"
_STORES_LISTED = 6  # in the store dialog, which fits 80x24
# Option 32's.
_NEW_NODE = "Node id:"
_HTTP_ADDRESS = "HTTP host:port:"
_TCP_ADDRESS = "TCP host:port:"


def _streams_hint(streams: list[str]) -> str:
    shown = ", ".join(streams[:5])
    return f"Streams: {shown}{' …' if len(streams) > 5 else ''}" if streams else "No streams yet"


def observer_by_stream(ops: Operations, streams: list[str], *, blink: bool) -> FormDialog[Outcome]:
    """1. Create Observer by Stream."""

    async def submit(values: dict[str, str]) -> Outcome:
        observer = await ops.observers.create(stream_selector(values["stream"]), values["name"])
        return outcomes.observer_created(observer.name, observer.selector)

    return FormDialog(
        "📊 Create Observer by Stream",
        [
            Field(
                "stream",
                "Enter stream name (or $all):",
                ALL_STREAMS,
                suggestions=(ALL_STREAMS, *streams),
            ),
            Field("name", _OBSERVER_NAME, placeholder="default: store:stream"),
        ],
        submit,
        hint=_streams_hint(streams),
        blink=blink,
    )


def observer_by_type(ops: Operations, *, blink: bool) -> FormDialog[Outcome]:
    """2. Create Observer by Event Type."""

    async def submit(values: dict[str, str]) -> Outcome:
        event_type = values["event_type"]
        observer = await ops.observers.create_by_event_type(event_type, values["name"])
        return outcomes.observer_created(observer.name, observer.selector)

    return FormDialog(
        "📊 Create Observer by Event Type",
        [
            Field("event_type", "Enter event type:", EVENT_TYPES[1], choices=EVENT_TYPES),
            Field("name", _OBSERVER_NAME, placeholder="default: store:type"),
        ],
        submit,
        blink=blink,
    )


def observer_by_payload(ops: Operations, *, blink: bool) -> FormDialog[Outcome]:
    """3. Create Observer by Event Payload."""

    async def submit(values: dict[str, str]) -> Outcome:
        pattern = parse_pattern(values["pattern"])
        observer = await ops.observers.create_by_payload(pattern, values["name"])
        return outcomes.observer_created(observer.name, observer.selector)

    return FormDialog(
        "📊 Create Observer by Event Payload",
        [
            Field("name", _OBSERVER_NAME, placeholder="default: store:payload"),
            Field("pattern", "Pattern:", placeholder='e.g. %{operator: "John"}'),
        ],
        submit,
        hint=PAYLOAD_HINT,
        blink=blink,
    )


def start_producers(ops: Operations, *, blink: bool) -> FormDialog[Outcome]:
    """7. Start Producers."""

    async def submit(values: dict[str, str]) -> Outcome:
        count = parse_whole(
            values["count"],
            "number of producers",
            default=DEFAULT_COUNT,
            minimum=1,
            maximum=MAX_COUNT,
        )
        streams = await ops.producers.start(count)
        return outcomes.producers_started(streams, rate_text(ops.producers.rate))

    return FormDialog(
        "🏭 Start Producers",
        [Field("count", f"Number of producers (default {DEFAULT_COUNT}):", str(DEFAULT_COUNT))],
        submit,
        hint="Each producer writes one greenhouse stream (greenhouse-1…N).",
        blink=blink,
    )


def create_subscription(ops: Operations, streams: list[str], *, blink: bool) -> FormDialog[Outcome]:
    """10. Create Subscription (this console then consumes it, acking every event)."""

    async def submit(values: dict[str, str]) -> Outcome:
        name = values["name"].strip()
        start = parse_start(values["start"])
        selector = stream_selector(values["stream"])
        created = await ops.subscriptions.create(name, selector, start)
        return outcomes.subscription_created(name, selector["by_stream"], start, created)

    return FormDialog(
        "📡 Create Subscription",
        [
            Field("name", "Enter subscription name:", placeholder="e.g. my_sub"),
            Field("stream", _STREAM_NAME, ALL_STREAMS, suggestions=(ALL_STREAMS, *streams)),
            Field("start", "Start from version (default 0):", "0"),
        ],
        submit,
        hint="This console consumes it and acknowledges every event.",
        blink=blink,
    )


def browse_stream(
    ops: Operations, streams: list[str], current: str | None, *, blink: bool
) -> FormDialog[tuple[PageRequest, StreamPage]]:
    """12. View Stream Data, forward or backward; the page opens in the streams browser."""

    async def submit(values: dict[str, str]) -> tuple[PageRequest, StreamPage]:
        direction = values["direction"]
        typed = values["start"].strip()
        backward_from_end = not typed and direction == "backward"
        start = None if backward_from_end else parse_whole(typed, "start version", default=0)
        count = parse_whole(
            values["count"],
            "number of events",
            default=DEFAULT_FETCH,
            minimum=1,
            maximum=MAX_EVENTS,
        )
        request = PageRequest(values["stream"].strip(), start, direction, count)
        page = await ops.streams.read(request.stream, start, count, direction)
        return request, page

    return FormDialog(
        "📈 View Stream Data",
        [
            Field("stream", _STREAM_NAME, current or "", "greenhouse-1", (), tuple(streams)),
            Field("direction", "Direction:", "forward", choices=DIRECTIONS),
            Field("start", "Start from version:", placeholder="0 (backward: the last)"),
            Field(
                "count",
                f"Number of events to fetch (default {DEFAULT_FETCH}):",
                str(DEFAULT_FETCH),
            ),
        ],
        submit,
        blink=blink,
    )


def append_events(
    ops: Operations, streams: list[str], current: str | None, *, blink: bool
) -> FormDialog[Outcome]:
    """13. Append Events Manually: random greenhouse events, checked with the catalogue."""

    async def submit(values: dict[str, str]) -> Outcome:
        count = parse_whole(
            values["count"],
            "number of events",
            default=DEFAULT_APPEND,
            minimum=1,
            maximum=MAX_EVENTS,
        )
        result = await ops.streams.append_generated(values["stream"], count)
        return outcomes.events_appended(result.stream_id, len(result.events), result.version)

    return FormDialog(
        "📝 Append Events Manually",
        [
            Field("stream", _STREAM_NAME, current or "", "greenhouse-1", (), tuple(streams)),
            Field(
                "count",
                f"Number of events to append (default {DEFAULT_APPEND}):",
                str(DEFAULT_APPEND),
            ),
        ],
        submit,
        hint="Random greenhouse events; a new stream starts with initialized:v1.",
        blink=blink,
    )


def append_event(
    ops: Operations, streams: list[str], current: str | None, *, blink: bool
) -> FormDialog[Outcome]:
    """Append a chosen event: a type from the catalogue and its data, checked first."""

    async def submit(values: dict[str, str]) -> Outcome:
        data = parse_data(values["data"])
        count = parse_whole(
            values["count"], "number of events", default=1, minimum=1, maximum=MAX_EVENTS
        )
        try:
            result = await ops.streams.append_event(
                values["stream"], values["event_type"], data, count
            )
        except NewStreamError as exc:
            raise OpsError(f"{exc} ({operation('append_events').key_hint})") from None
        return outcomes.event_appended(values["event_type"], result.stream_id, result.version)

    measured = EVENT_TYPES[1]
    return FormDialog(
        "📝 Append a Chosen Event",
        [
            Field("stream", _STREAM_NAME, current or "", "greenhouse-1", (), tuple(streams)),
            Field("event_type", "Enter event type:", measured, choices=EVENT_TYPES),
            Field("data", "Data:", placeholder=data_hint(measured)),
            Field("count", "How many (default 1):", "1"),
        ],
        submit,
        hint="Data as a map: %{temperature: 23} or JSON; checked against the catalogue.",
        blink=blink,
    )


def isolate_node(
    ops: Operations, node: str, peers: list[str], heal_hint: str, *, blink: bool
) -> FormDialog[Outcome]:
    """Isolate a node, or cut some of its links one way (the menu shell's option 30)."""

    async def submit(values: dict[str, str]) -> Outcome:
        status = await ops.cluster.status()
        chosen = status.peers(node, values["peers"])
        direction = parse_direction(values["direction"])
        return outcomes.links_cut(await ops.cluster.isolate(node, chosen, direction), heal_hint)

    return FormDialog(
        f"✂ Isolate {node}",
        [
            Field(
                "peers",
                _PEERS,
                "all",
                placeholder="all, or e.g. " + " ".join(peers[:1]),
                suggestions=("all", *peers),
            ),
            Field("direction", _DIRECTION, "both", choices=CUT_DIRECTIONS),
        ],
        submit,
        hint=f"Peers: {', '.join(peers) or 'none'} · in: {node} stops hearing them · "
        f"out: they stop hearing {node}",
        blink=blink,
    )


def set_tempo(ops: Operations, current: int, *, blink: bool) -> FormDialog[Outcome]:
    """Tempo (the menu shell's option 34): N times slower, 1 for full speed."""

    async def submit(values: dict[str, str]) -> Outcome:
        scale = parse_whole(values["scale"], "tempo", minimum=1, maximum=MAX_TEMPO)
        return outcomes.tempo_set(await ops.cluster.set_tempo(scale))

    return FormDialog(
        "🐢 Tempo",
        [Field("scale", f"Times slower (1 to {MAX_TEMPO}, 1: full speed):", str(SLOW_TEMPO))],
        submit,
        hint=f"Now {tempo_words(current)} · election timeouts, heartbeats, messages and the "
        "gateway's probes, all N times slower · keys - + = step it",
        blink=blink,
    )


def link_fault(ops: Operations, node: str, peers: list[str], *, blink: bool) -> FormDialog[Outcome]:
    """Link faults from a node (the menu shell's option 35); all zero clears them."""

    async def submit(values: dict[str, str]) -> Outcome:
        drop, delay, duplicate = parse_fault(values["drop"], values["delay"], values["dup"])
        result = await ops.cluster.set_link_fault(node, values["to"], drop, delay, duplicate)
        return outcomes.link_fault_set(result)

    return FormDialog(
        f"≈ Link faults from {node}",
        [
            Field("to", "To peer (default: all):", "all", suggestions=("all", *peers)),
            Field("drop", "Drop (%):", "0"),
            Field("delay", "Delay (ms):", "0"),
            Field("dup", "Duplicate (%):", "0"),
        ],
        submit,
        hint=f"What {node} sends them, one way · all zero clears · 100% drop: a one-way cut",
        blink=blink,
    )


def add_node(
    ops: Operations, proposed: tuple[str, str, str], *, blink: bool
) -> FormDialog[Outcome]:
    """Add a node (the menu shell's option 32), the next free id and ports filled in."""

    async def submit(values: dict[str, str]) -> Outcome:
        node_id = values["node_id"].strip()
        http, tcp = parse_address(values["http"]), parse_address(values["tcp"])
        return outcomes.member_added(
            node_id, await ops.cluster.add_node(node_id, http=http, tcp=tcp)
        )

    node_id, http, tcp = proposed
    return FormDialog(
        "➕ Add Node",
        [
            Field("node_id", _NEW_NODE, node_id),
            Field("http", _HTTP_ADDRESS, http),
            Field("tcp", _TCP_ADDRESS, tcp),
        ],
        submit,
        hint="It joins as a learner, catches up (by a snapshot if needed), then votes",
        blink=blink,
    )


def switch_store(ops: Operations, stores: list[StoreRow], *, blink: bool) -> FormDialog[Outcome]:
    """Work on another store: the stores with their counts, the next one proposed; an admin's
    console creates a store it is given a new name for."""

    async def submit(values: dict[str, str]) -> Outcome:
        return outcomes.store_switched(await ops.switch_store(values["store"]))

    names = [row.store_id for row in stores]
    others = [name for name in names if name != ops.store]
    listed = [
        f"{row.store_id}{' (here)' if row.store_id == ops.store else ''}: {row.counts}"
        for row in stores[:_STORES_LISTED]
    ]
    if len(stores) > _STORES_LISTED:
        listed.append(f"… and {len(stores) - _STORES_LISTED} more")
    running = ops.running().words
    notes = [*listed]
    if ops.access.role == "admin":
        notes.append("A new name creates that store.")
    if running:
        notes.append(f"This console's {running} on {ops.store} stop.")
    return FormDialog(
        "📦 Switch Store",
        [Field("store", "Store:", others[0] if others else "", suggestions=tuple(names))],
        submit,
        hint="\n".join(notes),
        blink=blink,
    )

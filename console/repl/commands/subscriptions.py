"""Options 10-11 and lab options 26-27: create a persistent subscription (consumed here,
acking), list them, choose what this console's consumer acks or nacks, replay parked events."""

from __future__ import annotations

from collections.abc import Sequence

from console.ops.answers import known_name
from console.ops.catalogue import operation
from console.ops.formatting import CHECKPOINT_NOTE
from console.ops.observers import ALL_STREAMS, stream_selector
from console.ops.outcomes import (
    consuming,
    parked_replayed,
    policy_set,
    subscription_created,
)
from console.ops.subscriptions import (
    ACTIONS,
    Action,
    ConsumerPolicy,
    SubscriptionConsumer,
    SubscriptionRow,
    counters_note,
    parse_action,
    parse_policy,
    parse_start,
    subscription_name,
)
from console.repl.context import Context, parsed
from console.repl.printer import Printer
from console.repl.tables import Cell

# What each action does with the Nth event, worded as in the dashboard's ack/nack dialog.
# Where the hints send people, named from the catalogue.
POLICY = operation("consumer_policy").option
PARK_SOME = f"{POLICY} parks some with nack_park"
MONITOR = operation("monitor").option
COUNTERS = operation("list_subscriptions").option
CREATE_ONE = f"none yet ({operation('create_subscription').option} creates one)"
ACTION_HINTS: dict[Action, str] = {
    "ack": "acknowledge every event",
    "nack_retry": "deliver it again (attempt 2, 3 …)",
    "nack_park": f"park it ({operation('replay_parked').option} replays parked events)",
    "nack_skip": "drop it",
}


async def create_subscription(ctx: Context) -> None:
    """10. Create Subscription."""
    ctx.printer.heading("📡 Creating Subscription")
    name = await ctx.answer(
        "Enter subscription name: ",
        parsed(subscription_name),
        history="subscription",
        completions=await ctx.ops.subscriptions.names(),
    )
    streams = await ctx.ops.streams.names()
    ctx.printer.line(f"Available streams: {', '.join(streams) or 'none yet'} (or {ALL_STREAMS})")
    selector = await ctx.answer(
        "Enter stream name: ",
        parsed(stream_selector),
        history="stream",
        completions=[ALL_STREAMS, *streams],
    )
    start = await ctx.answer(
        "Start from version (default 0): ", parsed(parse_start), history="version", optional=True
    )
    created = await ctx.ops.subscriptions.create(name, selector, start)
    ctx.printer.outcome(subscription_created(name, selector["by_stream"], start, created))
    ctx.printer.hint(
        f"This console consumes '{name}' and acks every event: "
        f"{MONITOR} shows its RECEIVED lines, {COUNTERS} its counters"
    )
    ctx.printer.hint(
        f"{POLICY.capitalize()} makes it nack every Nth event instead (retry, park or skip)"
    )


async def list_subscriptions(ctx: Context) -> None:
    """11. List Subscriptions."""
    ctx.printer.heading("📋 Subscriptions")
    rows = await ctx.ops.subscriptions.rows()
    if not rows:
        ctx.printer.warn("No subscriptions")
        return
    show_subscriptions(ctx.printer, rows)
    latest = ctx.ops.health.latest
    for line in (CHECKPOINT_NOTE, *counters_note(None if latest is None else latest.status)):
        ctx.printer.hint(line)


def show_subscriptions(printer: Printer, rows: Sequence[SubscriptionRow]) -> None:
    """What each subscription is, then its counters: two tables, so each fits 80 columns."""
    printer.table(
        ("Name", "Selector", "Start", "Here"),
        [(r.name, r.selector, str(r.start_from), _here_cell(r)) for r in rows],
    )
    printer.line()
    printer.table(
        ("Name", "Checkpoint", "Consumers", "In flight", "Parked", "Delivered", "Acked", "Nacked"),
        [
            (
                r.name,
                str(r.checkpoint),
                str(r.consumers),
                str(r.in_flight),
                str(r.parked),
                str(r.delivered),
                str(r.acked),
                str(r.nacked),
            )
            for r in rows
        ],
    )


def _here_cell(row: SubscriptionRow) -> Cell:
    """``consuming`` while this console acks everything; with the policy (in yellow, like the
    dashboard) once it nacks some."""
    if not row.consuming_here:
        return ""
    if row.consumer_state == "reconnecting":
        return ("class:warn", "reconnecting")
    if row.consumer_state == "failed":
        return ("class:error", "failed")
    policy = row.policy or ConsumerPolicy()
    if policy.acks_all:
        return ("class:ok", "consuming")
    return ("class:warn", f"consuming · {policy.describe()}")


def running_consumers(ctx: Context) -> dict[str, SubscriptionConsumer]:
    """This session's consumers that are still consuming, or reconnecting to do so (a failed one
    is started afresh)."""
    manager = ctx.ops.subscriptions
    consumers = (manager.consumer(name) for name in manager.consumer_names())
    return {c.name: c for c in consumers if c.state in ("running", "reconnecting")}


async def ask_policy(ctx: Context) -> ConsumerPolicy:
    """An action (by name or number, default ack) and, for a nack, every how many events."""
    ctx.printer.line("Actions (the events not nacked are acked):")
    for number, action in enumerate(ACTIONS, 1):
        ctx.printer.line(f"  {number}. {action:<11} - {ACTION_HINTS[action]}")
    action = await ctx.answer(
        "Enter action (default: ack): ",
        parsed(parse_action),
        history="action",
        completions=ACTIONS,
        optional=True,
    )
    if action == "ack":
        return ConsumerPolicy()
    return await ctx.answer(
        "Nack every Nth event (default 1): ",
        parsed(lambda every: parse_policy(action, every)),
        history="count",
        optional=True,
    )


async def ask_subscription(ctx: Context, names: Sequence[str]) -> str:
    """The name of an existing subscription."""
    return await ctx.answer(
        "Enter subscription name: ",
        parsed(lambda text: known_name(text, names, "subscription")),
        history="subscription",
        completions=names,
    )


async def consumer_policy(ctx: Context) -> None:
    """26. Set Consumer Ack Policy: ack every event, or nack every Nth (retry, park or skip);
    starts consuming the subscription here when this console does not yet."""
    ctx.printer.heading("⚙️  Consumer Ack Policy")
    manager = ctx.ops.subscriptions
    names = await manager.names()
    ctx.printer.line(f"Subscriptions: {', '.join(names) or CREATE_ONE}")
    running = running_consumers(ctx)
    if running:
        consumed = ", ".join(f"{n} ({c.policy.describe()})" for n, c in running.items())
        ctx.printer.line(f"Consumed here: {consumed}")
    name = await ask_subscription(ctx, names)
    policy = await ask_policy(ctx)
    if name in running:
        manager.set_policy(name, policy)
        ctx.printer.outcome(policy_set(name, policy.describe()))
    else:
        await manager.start_consumer(name, policy)
        ctx.printer.outcome(consuming(name, policy.describe()))
    # The consumer reads its policy once per batch, hence "from the next batch on".
    ctx.printer.hint(
        f"From the next batch on: {MONITOR} shows each RECEIVED line's outcome (→ parked …), "
        f"{COUNTERS} the counters"
    )


async def replay_parked(ctx: Context) -> None:
    """27. Replay Parked Events: the engine delivers a subscription's parked events again."""
    ctx.printer.heading("♻️  Replay Parked Events")
    rows = {row.name: row for row in await ctx.ops.subscriptions.rows()}
    listed = ", ".join(f"{n} ({r.parked} parked)" for n, r in rows.items())
    ctx.printer.line(f"Subscriptions: {listed or CREATE_ONE}")
    name = await ask_subscription(ctx, list(rows))
    await ctx.ops.subscriptions.replay_parked(name)
    ctx.printer.outcome(parked_replayed(name, rows[name].parked, PARK_SOME))
    if not rows[name].parked:
        return
    if name in running_consumers(ctx):
        again = f"{MONITOR.capitalize()} shows them RECEIVED again, {COUNTERS} the counters"
        ctx.printer.hint(again)
    else:
        ctx.printer.hint(f"This console does not consume '{name}': {POLICY} consumes it here")

"""A real session recorded by the dashboard, and what its screens showed, for replay tests.

:func:`record_session` runs ``GateConsole`` with a :class:`~console.ops.recording.Recorder` on a
real cluster: an observer of ``$all``, two producers, the Messages panel open, the leader killed
and a new one elected.  It answers what the live panels held at the end, so a replay can be
checked against it.  The small recording the snapshot tests replay
(``tests/tui/recordings/failover.gate.gz``) was made by ``python -m tests.tui.replay_session
FILE``, which runs the same session on a cluster of its own.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import RichLog, Static

from console.ops.operations import Operations
from console.ops.recording import Recorder
from console.ops.session import SessionOptions
from console.tui.app import GateConsole
from console.tui.feed.panel import FeedPanel
from console.tui.messages.panel import MessagesPanel
from tests.cluster_harness import start_cluster_async

SIZE = (120, 36)


@dataclass(frozen=True)
class Shown:
    """What the live panels held at the end of a session."""

    timeline: list[str]
    messages: list[str]
    feed: list[str]
    verdict: str


def shown(app: GateConsole) -> Shown:
    """What the app's panels hold now."""
    timeline = [strip.text for strip in app.query_one("#timeline", RichLog).lines]
    messages = [line.text for line in app.query_one(MessagesPanel).lines]
    feed = [f"{line.source}: {line.text}" for line in app.query_one(FeedPanel).retained]
    verdict = str(app.query_one("#verdict-line", Static).render())
    return Shown(timeline, messages, feed, verdict)


async def until(pilot: Pilot[Any], ok: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


async def record_session(ops: Operations, path: Path) -> Shown:
    """Record a short session with a kill of the leader; answers what the panels showed."""
    status = await ops.cluster.status()
    recorder = Recorder(path, [node.node_id for node in status.nodes])
    app = GateConsole(ops, blink=False, recorder=recorder)
    try:
        async with app.run_test(size=SIZE) as pilot:
            header = app.query_one("#status-text", Static)
            await until(pilot, lambda: "leader" in str(header.render()), "the header")
            await ops.observers.create_by_stream("$all")
            await ops.producers.start(2)
            await until(pilot, lambda: len(app.query_one(FeedPanel).retained) >= 10, "the feed")
            await pilot.press("7")
            await until(pilot, lambda: len(app.query_one(MessagesPanel).lines) >= 3, "messages")
            leader = (await ops.cluster.status()).leader
            assert leader is not None
            result = await ops.cluster.act(leader, "kill")
            assert result.settled, result

            def new_leader() -> bool:
                timeline = "\n".join(s.text for s in app.query_one("#timeline", RichLog).lines)
                return f"new leader: {result.leader}" in timeline

            await until(pilot, new_leader, "the new leader on the timeline")
            for _ in range(3):  # a few more looks at the cluster, its verdict checked
                seen = ops.health.updates
                await until(pilot, lambda s=seen: ops.health.updates > s, "a health sample")
            await ops.producers.stop_all()
            await pilot.pause(0.3)
            app.drain()
            live = shown(app)
            app.recorder = None  # the recording ends with what the panels hold now
            await pilot.press("ctrl+q")
    finally:
        recorder.close()
    return live


async def _main(path: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        cluster = await start_cluster_async(Path(directory), 3)
        try:
            ops = await Operations.open(
                SessionOptions(connect=cluster.url), seed=7, health_interval=0.5
            )
            try:
                await record_session(ops, path)
            finally:
                await ops.close()
        finally:
            await cluster.embedded.stop()


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1])))

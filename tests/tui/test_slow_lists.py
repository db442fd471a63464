"""Lists slower to read than the dashboard's once-a-second poll are still shown: a round is let
finish, not cancelled by the next (found when a CI run never showed a subscription's backlog)."""

from __future__ import annotations

import asyncio
import time

from console.ops.streams import StreamRow
from console.tui.app import POLL_SECONDS, GateConsole
from tests.tui.recorded import RecordedOps

SLOW = 1.5 * POLL_SECONDS  # each read of the streams takes longer than the poll's interval


async def test_a_round_of_lists_slower_than_the_poll_is_shown() -> None:
    ops = RecordedOps()
    fast = ops.streams.rows

    async def slow_rows() -> list[StreamRow]:
        await asyncio.sleep(SLOW)
        return await fast()

    ops.streams.rows = slow_rows  # type: ignore[method-assign]
    app = GateConsole(ops.as_operations(), blink=False)
    async with app.run_test() as pilot:
        deadline = time.monotonic() + 4 * SLOW
        while app.history.versions["subscriptions"] == 0:
            assert time.monotonic() < deadline, "no round of the lists ever finished"
            await pilot.pause(0.1)

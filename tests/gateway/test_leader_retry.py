"""The one retry on the leader (engine/gateway/leader_retry.py) with a fake send and a fake clock.

The real-cluster side (failover under writes, consumers following a new leader) is in
tests/faults/test_failover.py and tests/subscriptions/.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.gateway.leader_retry import FIRST_DELAY, MAX_DELAY, retry_on_leader
from engine.protocol.errors import RETRYABLE, GateError
from engine.protocol.framing import FrameError


class FakeView:
    """The health monitor as the retry sees it; ``leaders`` is who it names after each refresh.

    With ``frozen`` a refresh never ends, as a round held by a frozen node for its probe
    timeout; ``announce`` is a node's push of a new leader.
    """

    def __init__(
        self, leader: str | None, leaders: list[str | None] | None = None, *, frozen: bool = False
    ) -> None:
        self.leader = leader
        self._leaders = list(leaders or [])
        self._frozen = frozen
        self._moved: asyncio.Future[None] | None = None
        self.hints: list[str] = []
        self.refreshes = 0

    def note_leader_hint(self, node_id: str, term: int | None = None) -> None:
        self.hints.append(node_id)
        self.leader = node_id

    async def refresh(self) -> None:
        self.refreshes += 1
        if self._frozen:
            await asyncio.Event().wait()
        if self._leaders:
            self.leader = self._leaders.pop(0)

    def leader_moved(self) -> asyncio.Future[None]:
        if self._moved is None or self._moved.done():
            self._moved = asyncio.get_running_loop().create_future()
        return self._moved

    def announce(self, leader: str) -> None:
        self.leader = leader
        if self._moved is not None and not self._moved.done():
            self._moved.set_result(None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeSend:
    """Answers from a script, one per attempt: an exception to raise or a value to return."""

    def __init__(self, clock: FakeClock, script: list[Any], cost: float = 0.0) -> None:
        self.clock = clock
        self.script = script
        self.cost = cost
        self.calls: list[str] = []

    async def __call__(self, node_id: str, remaining: float) -> Any:
        assert remaining > 0
        self.calls.append(node_id)
        self.clock.now += self.cost
        answer = self.script.pop(0) if self.script else ConnectionRefusedError()
        if isinstance(answer, BaseException):
            raise answer
        return answer


async def run(
    send: FakeSend, view: FakeView, clock: FakeClock, *, timeout: float = 5.0, write: bool = False
) -> Any:
    return await retry_on_leader(
        send, view, timeout, what="serve it", write=write, clock=clock, sleep=clock.sleep
    )


async def test_an_answer_from_the_leader_comes_back_at_once() -> None:
    clock = FakeClock()
    view = FakeView("node1")
    send = FakeSend(clock, [{"ok": 1}])
    assert await run(send, view, clock) == {"ok": 1}
    assert send.calls == ["node1"]
    assert (view.refreshes, clock.sleeps) == (0, [])


async def test_a_not_leader_hint_is_followed_without_waiting() -> None:
    clock = FakeClock()
    view = FakeView("node1")
    hint = GateError("not_leader", "not me", leader="node2")
    send = FakeSend(clock, [hint, "written"])
    assert await run(send, view, clock) == "written"
    assert send.calls == ["node1", "node2"]
    assert view.hints == ["node2"]
    assert (view.refreshes, clock.sleeps) == (0, [])


async def test_a_request_error_is_the_answer_and_is_not_retried() -> None:
    clock = FakeClock()
    view = FakeView("node1")
    send = FakeSend(clock, [GateError("wrong_expected_version", "expected 3")])
    with pytest.raises(GateError) as caught:
        await run(send, view, clock)
    assert caught.value.code == "wrong_expected_version"
    assert send.calls == ["node1"]


@pytest.mark.parametrize("code", sorted(RETRYABLE))
async def test_every_retryable_code_is_retried(code: str) -> None:
    clock = FakeClock()
    view = FakeView("node1")
    send = FakeSend(clock, [GateError(code, "later"), "done"])
    assert await run(send, view, clock) == "done"
    assert send.calls == ["node1", "node1"]
    assert view.refreshes == 1


async def test_with_no_leader_it_refreshes_and_backs_off_until_one_is_elected() -> None:
    clock = FakeClock()
    view = FakeView(None, leaders=[None, None, None, None, "node3"])
    send = FakeSend(clock, ["done"])
    assert await run(send, view, clock) == "done"
    assert send.calls == ["node3"]
    assert view.refreshes == 5
    assert clock.sleeps == [
        FIRST_DELAY,
        FIRST_DELAY * 2,
        FIRST_DELAY * 4,
        FIRST_DELAY * 8,
        MAX_DELAY,
    ]


async def test_lost_answers_to_a_write_end_in_an_unknown_outcome() -> None:
    clock = FakeClock()
    view = FakeView("node1")
    send = FakeSend(clock, [TimeoutError(), FrameError("bad frame")], cost=0.3)
    with pytest.raises(GateError) as caught:
        await run(send, view, clock, timeout=2.0, write=True)
    assert caught.value.code == "timeout"
    assert "outcome is unknown" in caught.value.message
    assert "(node1: connection lost)" in caught.value.message
    # It kept trying to the deadline, and no later: no sleep runs past it.
    assert len(send.calls) > 3
    assert clock.now <= 1000.0 + 2.0 + 0.3


async def test_lost_answers_to_other_requests_end_unavailable_naming_the_last_reason() -> None:
    clock = FakeClock()
    view = FakeView("node1")
    send = FakeSend(clock, [], cost=0.1)  # every attempt: ConnectionRefusedError
    with pytest.raises(GateError) as caught:
        await run(send, view, clock, timeout=1.0)
    assert caught.value.code == "unavailable"
    assert caught.value.message.startswith("no leader could serve it within 1 s (node1: ")


async def test_a_write_nobody_took_is_unavailable_not_unknown() -> None:
    clock = FakeClock()
    view = FakeView("node1")
    refusals = [GateError("not_leader", "no leader yet") for _ in range(100)]
    send = FakeSend(clock, refusals, cost=0.05)
    with pytest.raises(GateError) as caught:
        await run(send, view, clock, timeout=1.0, write=True)
    assert caught.value.code == "unavailable"
    assert "node1: no leader yet" in caught.value.message


async def test_each_failed_attempt_is_counted_as_a_retry() -> None:
    clock = FakeClock()
    view = FakeView("node1")
    send = FakeSend(clock, [GateError("unavailable", "busy"), ConnectionResetError(), "ok"])
    retries: list[int] = []
    answer = await retry_on_leader(
        send,
        view,
        5.0,
        what="serve it",
        on_retry=lambda: retries.append(1),
        clock=clock,
        sleep=clock.sleep,
    )
    assert answer == "ok"
    assert len(retries) == 2


async def test_a_leader_announced_during_a_held_round_ends_the_wait() -> None:
    # The frozen leader holds the health round; the new leader's push must not wait for it.
    clock = FakeClock()
    view = FakeView("node1", frozen=True)
    send = FakeSend(clock, [ConnectionResetError(), "written"])
    retry = asyncio.create_task(run(send, view, clock, write=True))
    while view.refreshes == 0:
        await asyncio.sleep(0)
    view.announce("node2")
    assert await asyncio.wait_for(retry, 5.0) == "written"
    assert send.calls == ["node1", "node2"]
    assert (view.refreshes, clock.sleeps) == (1, [])


async def test_a_write_abandoned_for_a_new_leader_goes_there_at_once_outcome_unknown() -> None:
    # Router.write gives up on a leader that stopped answering once another leads, naming it.
    moved = GateError("timeout", "node1 stopped leading during the write", leader="node2")
    clock = FakeClock()
    view = FakeView("node1")
    send = FakeSend(clock, [moved, "written"])
    assert await run(send, view, clock, write=True) == "written"
    assert send.calls == ["node1", "node2"]
    assert (view.refreshes, clock.sleeps) == (0, [])
    # Should every later try be refused, node1 may still have replicated it: not a clean 503.
    clock = FakeClock()
    refusals = [GateError("unavailable", "no quorum") for _ in range(100)]
    send = FakeSend(clock, [moved, *refusals], cost=0.05)
    with pytest.raises(GateError) as caught:
        await run(send, FakeView("node1"), clock, timeout=1.0, write=True)
    assert caught.value.code == "timeout"


async def test_a_leader_learned_while_the_attempt_ran_is_tried_without_waiting() -> None:
    clock = FakeClock()
    view = FakeView("node1")

    async def send(node_id: str, remaining: float) -> str:
        if node_id == "node1":
            view.announce("node3")  # the push arrives before node1's connection drops
            raise ConnectionResetError()
        return f"written by {node_id}"

    answer = await retry_on_leader(
        send, view, 5.0, what="serve it", write=True, clock=clock, sleep=clock.sleep
    )
    assert answer == "written by node3"
    assert (view.refreshes, clock.sleeps) == (0, [])

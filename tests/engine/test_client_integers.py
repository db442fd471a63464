"""The client refuses an integer it cannot send before sending it: ``invalid_request`` naming the
field (the gateway would answer the same 400), never orjson's TypeError.

The client points at a port nobody listens on: an attempt to send would be ``unavailable``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from engine.client import GateClient, GateError

HUGE = 99999999999999999999999  # past 64 bits: orjson raises TypeError
UNSIGNED = 2**63  # orjson writes it as an unsigned 64-bit integer


@pytest.fixture
async def client() -> AsyncIterator[GateClient]:
    async with GateClient("http://127.0.0.1:9", retry_deadline=0) as client:
        yield client


Call = Callable[[GateClient, int], Awaitable[Any]]
CALLS: list[tuple[str, Call, str]] = [
    (
        "subscription start",
        lambda c, n: c.put_subscription("s", "teach_sub", {"by_stream": "$all"}, start_from=n),
        "start_from",
    ),
    (
        "subscription max_in_flight",
        lambda c, n: c.put_subscription("s", "sub", max_in_flight=n),
        "max_in_flight",
    ),
    (
        "event data",
        lambda c, n: c.append("s", "x", [{"event_type": "t", "data": {"v": n}}]),
        "events[0].data.v",
    ),
    (
        "expected version",
        lambda c, n: c.append("s", "x", [], expected_version=n),
        "expected_version",
    ),
    ("read start", lambda c, n: c.read_stream("s", "x", start=n), "from"),
    ("read count", lambda c, n: c.read_all("s", count=-n - 1), "count"),
    ("snapshot version", lambda c, n: c.get_snapshot("s", "a", "b", n), "version"),
]


@pytest.mark.parametrize("value", [HUGE, UNSIGNED])
@pytest.mark.parametrize(("what", "call", "field"), CALLS, ids=[c[0] for c in CALLS])
async def test_an_integer_past_64_bits_is_refused_before_sending(
    client: GateClient, what: str, call: Call, field: str, value: int
) -> None:
    with pytest.raises(GateError) as caught:
        await call(client, value)
    assert caught.value.code == "invalid_request"
    assert caught.value.details == {"field": field}
    assert caught.value.message.startswith(f"{field} is ")
    assert "signed 64-bit" in caught.value.message


async def test_observe_refuses_them_too(client: GateClient) -> None:
    for kwargs, field in (
        ({"selector": {"by_event_payload": {"n": HUGE}}}, "selector.n"),
        ({"from_position": HUGE}, "from_position"),
    ):
        with pytest.raises(GateError) as caught:
            await anext(aiter(client.observe("s", **kwargs)))
        assert (caught.value.code, caught.value.details) == ("invalid_request", {"field": field})


async def test_integers_at_the_edges_are_sent(client: GateClient) -> None:
    for value in (2**63 - 1, -(2**63)):
        with pytest.raises(GateError) as caught:
            await client.append("s", "x", [{"event_type": "t", "data": {"v": value}}])
        assert caught.value.code == "unavailable"  # it got as far as connecting

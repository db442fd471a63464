"""``keep_trying``: once connected, the observe and consume iterators reconnect until closed and
tell ``on_connection`` when the connection goes and comes back; a first connection still has to
succeed within the client's ``retry_deadline`` (a wrong URL is an error, not a hang)."""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.client import GateClient, GateError
from engine.client.subscriptions import _Reconnect

DEAD = "http://127.0.0.1:9"  # nobody listens there


async def test_a_first_connection_still_has_a_deadline() -> None:
    async with GateClient(DEAD, retry_deadline=0.3) as client:
        started = time.monotonic()
        with pytest.raises(GateError) as caught:
            async with client.consume("reg_gh", "sub", keep_trying=True):
                pass
        assert caught.value.code == "unavailable"
        with pytest.raises(GateError, match="no connection"):
            await anext(aiter(client.observe("reg_gh", keep_trying=True)))
        assert time.monotonic() - started < 5


async def test_once_connected_it_waits_past_the_deadline_and_says_so() -> None:
    told: list[tuple[bool, str]] = []
    async with GateClient(DEAD, retry_deadline=0.1) as client:
        backoff = _Reconnect(client, "test", keep_trying=True, listener=lambda *a: told.append(a))
        backoff.connected()
        assert told == []  # a first connection is no news
        started = time.monotonic()
        while time.monotonic() - started < 0.5:  # five times the deadline
            await backoff.wait("HTTP 503")
        assert told == [(False, "HTTP 503")]  # once per outage
        backoff.connected()
        assert told == [(False, "HTTP 503"), (True, "")]

        without = _Reconnect(client, "test", listener=lambda *a: told.append(a))
        without.connected()
        with pytest.raises(GateError, match="no connection"):
            async with asyncio.timeout(5):
                while True:
                    await without.wait("HTTP 503")

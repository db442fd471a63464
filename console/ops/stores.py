"""The stores of the cluster and their counts, and what switching the console to another does.

A console works on one store at a time (``Operations.store``); switching stops what the console
ran on the old one (its observers, producers and subscription consumers: they belong to that
store, and panels that follow the new store would hide them while they went on) and points
every part at the new one.  An admin may create the store it switches to; other roles pick one
that exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from console.ops.errors import OpsError
from engine.client import GateClient, GateError


@dataclass(frozen=True, slots=True)
class StoreRow:
    """One store and its counts; a count that could not be read is None."""

    store_id: str
    streams: int
    events: int | None
    subscriptions: int | None = None

    @property
    def counts(self) -> str:
        """``12 streams · 1,240 events · 2 subscriptions`` (what is known of it)."""
        words = [_count(self.streams, "stream")]
        if self.events is not None:
            words.append(_count(self.events, "event"))
        if self.subscriptions is not None:
            words.append(_count(self.subscriptions, "subscription"))
        return " · ".join(words)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class Running:
    """What this console runs on its store: stopped by a switch."""

    observers: int = 0
    producers: int = 0
    consumers: int = 0

    @property
    def words(self) -> str:
        """``2 observers, 3 producers and 1 consumer``; empty when nothing runs."""
        parts = [
            _count(n, noun).replace(",", "")
            for n, noun in (
                (self.observers, "observer"),
                (self.producers, "producer"),
                (self.consumers, "consumer"),
            )
            if n
        ]
        if len(parts) > 1:
            return f"{', '.join(parts[:-1])} and {parts[-1]}"
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class StoreSwitch:
    """A switch done: from which store to which, whether it was created, what stopped."""

    previous: str
    store: StoreRow
    created: bool
    stopped: Running


class StoreOps:
    """The stores through the gateway."""

    def __init__(self, client: GateClient) -> None:
        self.client = client

    async def rows(self, *, subscriptions: bool = True) -> list[StoreRow]:
        """Every store with its counts, by id (its subscriptions counted too, one request per
        store, unless ``subscriptions`` is False)."""
        stores = sorted(await self.client.list_stores(), key=lambda s: s["store_id"])
        counted: list[int | None] = [None] * len(stores)
        if subscriptions:
            counted = list(
                await asyncio.gather(*(self._subscriptions(s["store_id"]) for s in stores))
            )
        return [
            StoreRow(s["store_id"], int(s["streams"]), int(s["events"]), count)
            for s, count in zip(stores, counted, strict=True)
        ]

    async def _subscriptions(self, store: str) -> int | None:
        try:
            return len(await self.client.list_subscriptions(store))
        except GateError:
            return None  # deleted meanwhile, or no node answers: the counts go without

    async def row(self, store: str) -> StoreRow:
        """One store with its counts; ``OpsError`` naming the stores when there is none."""
        try:
            info = await self.client.get_store(store)
        except GateError as exc:
            if exc.code == "store_not_found":
                known = ", ".join(row.store_id for row in await self.rows(subscriptions=False))
                raise OpsError(f"there is no store {store!r} (stores: {known or 'none'})") from None
            if exc.code == "invalid_request":
                raise OpsError(
                    f"{store!r} cannot be a store: 1-64 of A-Z a-z 0-9 _ - (e.g. shop_2)"
                ) from None
            raise
        count = await self._subscriptions(store)
        return StoreRow(info["store_id"], int(info["streams"]), int(info["events"]), count)

    async def create(self, store: str) -> None:
        """Create ``store`` (an admin's); ``OpsError`` for a name the gateway refuses."""
        try:
            await self.client.create_store(store)
        except GateError as exc:
            if exc.code == "invalid_request":
                raise OpsError(
                    f"{store!r} cannot be a store: 1-64 of A-Z a-z 0-9 _ - (e.g. shop_2)"
                ) from None
            if exc.code != "store_exists":
                raise

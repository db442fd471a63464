"""Persistent subscriptions on the JetStream backend: durable pull consumers.

A subscription is the durable consumer ``sub_<token(name)>`` of its store's stream (its
definition in the consumer's metadata, so "the same definition again" is a comparison), filtered
to the selected stream's subjects for a ``$<stream-id>`` selector and to every event otherwise;
the other selectors, and a start from an event number not yet written, are applied here, an event
they do not select being acknowledged unseen.  JetStream keeps what Gate's log keeps: the
delivery state (the ack floor is the checkpoint), ack timeouts (``AckWait``) and delivery counts
(``attempt``).  The mapping of the actions (docs/ENGINE.md, "JetStream backend"):

- ``ack`` → Ack; ``nack skip`` → Ack; ``nack retry`` → Nak, redelivered at once;
- ``nack park``, and a retry or an ack timeout past ``max_retries`` redeliveries → Term, plus a
  parked record (``position``, ``event_id``, ``attempts``, ``reason``) in the store's parked
  bucket; ``max_deliver`` is unlimited, so the parking is this module's and none is lost;
- ``nack stop`` and a disconnect → Nak of every event in flight to that consumer;
- ``replay-parked`` queues the parked events on this gateway: they are delivered again first,
  attempts starting over, unparked once acked or skipped, parked still after ``max_retries``.
  Like Gate's, a replay in progress is not replicated.

``consumers``, ``delivered``, ``acked`` and ``nacked`` are this gateway's counts since it started.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiohttp import WSMsgType, web
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from engine.backends.jetstream import naming
from engine.backends.jetstream.wire import JetStreamError, event_record
from engine.protocol.consume import (
    CLOSE_LEADER_CHANGED,
    CLOSE_NOT_FOUND,
    CLOSE_STOPPED,
    parse_client_frame,
)
from engine.protocol.errors import GateError
from engine.protocol.selectors import Selector, parse_selector

log = logging.getLogger("gate.backends.jetstream.subscriptions")

_CONSUMER_NOT_FOUND = 10014
_CONSUMER_EXISTS = 10148
_STREAM_NOT_FOUND = 10059
MAX_REPLAY = 10_000  # parked events replayed per request, as on Gate
FETCH_WAIT = 0.5  # seconds a pull waits for events before the loop looks at replays again
MAX_FETCH = 256  # events per pull


class Streams(Protocol):
    """What subscriptions need of the backend's streams (``JetStreamBackend``)."""

    async def client(self) -> NatsClient: ...

    async def api(self, subject: str, request: dict[str, Any], what: str) -> dict[str, Any]: ...

    async def by_numbers(self, store: str, stream: str, numbers: range) -> list[dict[str, Any]]: ...

    async def events_at(
        self, store: str, requests: list[dict[str, Any]]
    ) -> list[dict[str, Any]]: ...

    async def key_value(self, store: str, name: str, *, create: bool = False) -> KeyValue: ...


@dataclass
class _Replay:
    """A parked event delivered again."""

    record: dict[str, Any]
    key: str  # its key in the parked bucket
    attempt: int = 1


@dataclass
class _Local:
    """What this gateway knows of one subscription besides JetStream's state."""

    consumers: int = 0
    delivered: int = 0
    acked: int = 0
    nacked: int = 0
    deleted: bool = False
    replays: collections.deque[_Replay] = field(default_factory=collections.deque)


class Subscriptions:
    """The subscriptions of a JetStream backend's stores."""

    def __init__(self, backend: Streams) -> None:
        self.backend = backend
        self._local: dict[tuple[str, str], _Local] = {}

    def _state(self, store: str, name: str) -> _Local:
        state = self._local.get((store, name))
        if state is None:
            state = self._local[store, name] = _Local()
        return state

    def forget_store(self, store: str) -> None:
        """The store was deleted: its consumers end (4404)."""
        for (owner, name), state in list(self._local.items()):
            if owner == store:
                state.deleted = True
                del self._local[owner, name]

    # -- definitions -------------------------------------------------------------------------

    async def _info(self, store: str, name: str) -> dict[str, Any] | None:
        """The consumer's info; None without one (``store_not_found`` without the store)."""
        stream = naming.stream_name(store)
        try:
            return await self.backend.api(
                f"CONSUMER.INFO.{stream}.{naming.consumer_name(name)}", {}, "read a subscription"
            )
        except JetStreamError as exc:
            if exc.code == _CONSUMER_NOT_FOUND:
                return None
            if exc.code == _STREAM_NOT_FOUND:
                raise GateError("store_not_found", f"store {store!r} not found") from None
            raise GateError("unavailable", f"JetStream: {exc.description}") from None

    async def put(self, command: dict[str, Any]) -> tuple[Any, int]:
        store, name, definition = command["store"], command["name"], command["definition"]
        existing = await self._info(store, name)
        if existing is None:
            config = await self._consumer_config(store, name, definition)
            stream = naming.stream_name(store)
            request = {"stream_name": stream, "config": config, "action": "create"}
            try:
                await self.backend.api(
                    f"CONSUMER.CREATE.{stream}.{config['name']}", request, "create a subscription"
                )
            except JetStreamError as exc:
                if exc.code != _CONSUMER_EXISTS:
                    raise GateError("unavailable", f"JetStream: {exc.description}") from None
                existing = await self._info(store, name)  # created meanwhile
            else:
                await self.backend.key_value(store, naming.parked_bucket_name(store), create=True)
                self._local.pop((store, name), None)
                return {"name": name, "created": True}, 0
        if existing is not None and _definition(existing) == definition:
            return {"name": name, "created": False}, 0
        raise GateError(
            "subscription_exists",
            f"subscription {name!r} exists with another definition",
        )

    async def _consumer_config(
        self, store: str, name: str, definition: dict[str, Any]
    ) -> dict[str, Any]:
        selector = _selector(definition)
        stream_id = selector.stream_id
        config: dict[str, Any] = {
            "name": naming.consumer_name(name),
            "durable_name": naming.consumer_name(name),
            "ack_policy": "explicit",
            "ack_wait": definition["ack_timeout_ms"] * 1_000_000,
            "max_deliver": -1,  # parked here after max_retries (the module docstring)
            "max_ack_pending": -1,
            "filter_subject": (
                naming.events_subjects(store)
                if stream_id is None
                else naming.stream_subjects(store, stream_id)
            ),
            "metadata": {"gate_definition": orjson.dumps(definition).decode()},
        }
        start = definition["start_from"]
        if start == "origin":
            config["deliver_policy"] = "all"
        elif start == "current":
            config["deliver_policy"] = "new"
        elif stream_id is None:  # a position
            config |= {"deliver_policy": "by_start_sequence", "opt_start_seq": start}
        else:  # an event number: from its message, or (not written yet) from now on
            found = await self.backend.by_numbers(store, stream_id, range(start, start + 1))
            if found:
                config |= {
                    "deliver_policy": "by_start_sequence",
                    "opt_start_seq": found[0]["position"],
                }
            else:
                config["deliver_policy"] = "new"
        return config

    async def delete(self, store: str, name: str) -> tuple[Any, int]:
        stream = naming.stream_name(store)
        try:
            await self.backend.api(
                f"CONSUMER.DELETE.{stream}.{naming.consumer_name(name)}",
                {},
                "delete a subscription",
            )
        except JetStreamError as exc:
            if exc.code == _CONSUMER_NOT_FOUND:
                raise _not_found(name) from None
            if exc.code == _STREAM_NOT_FOUND:
                raise GateError("store_not_found", f"store {store!r} not found") from None
            raise GateError("unavailable", f"JetStream: {exc.description}") from None
        state = self._local.pop((store, name), None)
        if state is not None:
            state.deleted = True
        parked = await self._parked_bucket(store)
        for key in await self._parked_keys(store, name):
            with contextlib.suppress(NatsError):
                await parked.purge(key)
        return None, 0

    async def listing(self, store: str) -> list[dict[str, Any]]:
        stream = naming.stream_name(store)
        infos: list[dict[str, Any]] = []
        while True:
            try:
                page = await self.backend.api(
                    f"CONSUMER.LIST.{stream}", {"offset": len(infos)}, "list the subscriptions"
                )
            except JetStreamError as exc:
                if exc.code == _STREAM_NOT_FOUND:
                    raise GateError("store_not_found", f"store {store!r} not found") from None
                raise GateError("unavailable", f"JetStream: {exc.description}") from None
            consumers = page.get("consumers") or []
            infos += consumers
            if not consumers or len(infos) >= int(page.get("total", 0)):
                break
        listed = []
        for info in infos:
            metadata = info["config"].get("metadata") or {}
            if "gate_definition" not in metadata:
                continue  # not a subscription's consumer
            name = naming.untoken(info["name"][len(naming.CONSUMER_PREFIX) :])
            state = self._state(store, name)
            listed.append(
                {
                    "name": name,
                    **_definition(info),
                    "checkpoint": int(info["ack_floor"]["stream_seq"]),
                    "consumers": state.consumers,
                    "in_flight": int(info.get("num_ack_pending", 0)),
                    "parked": len(await self._parked_keys(store, name)),
                    "delivered": state.delivered,
                    "acked": state.acked,
                    "nacked": state.nacked,
                }
            )
        return sorted(listed, key=lambda s: s["name"])

    # -- parked events -----------------------------------------------------------------------

    async def _parked_bucket(self, store: str) -> KeyValue:
        return await self.backend.key_value(store, naming.parked_bucket_name(store), create=True)

    async def _parked_keys(self, store: str, name: str) -> list[str]:
        bucket = await self._parked_bucket(store)
        try:
            # Every key, chosen here: nats-py's subject filter over keys finds none.
            keys: list[str] = await bucket.keys()
        except js_errors.NoKeysError:
            return []
        prefix = naming.parked_keys(name)
        return [k for k in keys if k.startswith(prefix)]

    async def _park(
        self, store: str, name: str, record: dict[str, Any], attempts: int, reason: str
    ) -> None:
        bucket = await self._parked_bucket(store)
        parked = {
            "position": record["position"],
            "event_id": record["event_id"],
            "attempts": attempts,
            "reason": reason,
        }
        await bucket.put(naming.parked_key(name, record["position"]), orjson.dumps(parked))

    async def replay_parked(self, store: str, name: str) -> dict[str, Any]:
        if await self._info(store, name) is None:
            raise _not_found(name)
        keys = sorted(await self._parked_keys(store, name), key=lambda k: int(k.rsplit(".", 1)[1]))[
            :MAX_REPLAY
        ]
        state = self._state(store, name)
        queued = {replay.key for replay in state.replays}
        positions = [int(k.rsplit(".", 1)[1]) for k in keys if k not in queued]
        records = await self.backend.events_at(store, [{"seq": p} for p in positions])
        for record in records:
            state.replays.append(_Replay(record, naming.parked_key(name, record["position"])))
        return {"replayed": len(records)}

    # -- consumers ---------------------------------------------------------------------------

    async def consume(self, request: web.Request, store: str, name: str) -> web.WebSocketResponse:
        info = await self._info(store, name)  # refused before the upgrade: a plain 404
        if info is None:
            raise _not_found(name)
        definition = _definition(info)
        nc = await self.backend.client()
        try:
            pull = await nc.jetstream().pull_subscribe_bind(
                consumer=naming.consumer_name(name), stream=naming.stream_name(store)
            )
        except (NatsError, OSError) as exc:
            raise GateError("unavailable", f"JetStream: {exc}") from None
        ws = web.WebSocketResponse(heartbeat=20)
        session = _Session(self, store, name, definition, pull, ws, request)
        state = self._state(store, name)
        state.consumers += 1
        try:
            await ws.prepare(request)
            code, reason = await session.run()
            await ws.close(code=code, message=reason.encode()[:120])
        finally:
            state.consumers -= 1
            await session.give_back()
            with contextlib.suppress(NatsError):
                await pull.unsubscribe()
        return ws


class _Session:
    """One consumer's WebSocket: pulls for it, relays its acks and nacks."""

    def __init__(
        self,
        owner: Subscriptions,
        store: str,
        name: str,
        definition: dict[str, Any],
        pull: Any,
        ws: web.WebSocketResponse,
        request: web.Request,
    ) -> None:
        self.owner = owner
        self.store = store
        self.name = name
        self.selector = _selector(definition)
        start = definition["start_from"]
        self.first_number = start if isinstance(start, int) and self.selector.stream_id else 0
        self.max_retries: int = definition["max_retries"]
        self.max_in_flight: int = definition["max_in_flight"]
        self.pull = pull
        self.ws = ws
        self.request = request
        self.state = owner._state(store, name)
        self.in_flight: dict[str, Msg | _Replay] = {}
        self.attempts: dict[str, int] = {}
        self.room = asyncio.Event()

    async def run(self) -> tuple[int, str]:
        """Deliver and relay until one side ends; the close code and reason."""
        delivering = asyncio.create_task(self._deliver())
        relaying = asyncio.create_task(self._relay())
        done, _ = await asyncio.wait({delivering, relaying}, return_when=asyncio.FIRST_COMPLETED)
        for task in (delivering, relaying):
            task.cancel()
        for task in (delivering, relaying):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            if not task.cancelled() and task.exception() is None:
                result = task.result()
                if result is not None:
                    return result
        return CLOSE_LEADER_CHANGED, "the consumer's connection to JetStream ended; reconnect"

    async def _send(self, events: list[dict[str, Any]]) -> None:
        await self.ws.send_str(orjson.dumps({"type": "events", "events": events}).decode())

    async def _deliver(self) -> tuple[int, str]:
        while True:
            if self.state.deleted:
                return CLOSE_NOT_FOUND, f"subscription {self.name!r} was deleted"
            room = self.max_in_flight - len(self.in_flight)
            if room <= 0:
                self.room.clear()
                await self.room.wait()
                continue
            batch: list[dict[str, Any]] = []
            while self.state.replays and len(batch) < room:
                replay = self.state.replays.popleft()
                event_id = replay.record["event_id"]
                self.in_flight[event_id] = replay
                batch.append({**replay.record, "attempt": replay.attempt})
            if not batch:
                batch = await self._pull(min(room, MAX_FETCH))
            if batch:
                self.state.delivered += len(batch)
                await self._send(batch)

    async def _pull(self, count: int) -> list[dict[str, Any]]:
        try:
            messages = await self.pull.fetch(count, timeout=FETCH_WAIT)
        except TimeoutError:
            return []
        except js_errors.APIError:
            if await self.owner._info(self.store, self.name) is None:
                self.state.deleted = True
            return []
        batch = []
        for msg in messages:
            meta = msg.metadata
            record = event_record(msg.subject, msg.data, meta.sequence.stream)
            attempt = int(meta.num_delivered)
            if not self.selector.matches(record) or record["event_number"] < self.first_number:
                await msg.ack()  # not selected: settled unseen
                continue
            if attempt > self.max_retries + 1:  # an ack timeout past max_retries
                await self.owner._park(self.store, self.name, record, attempt - 1, "ack_timeout")
                await msg.term()
                continue
            self.in_flight[record["event_id"]] = msg
            self.attempts[record["event_id"]] = attempt
            batch.append({**record, "attempt": attempt})
        return batch

    async def _relay(self) -> tuple[int, str] | None:
        async for message in self.ws:
            if message.type != WSMsgType.TEXT:
                if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    return None
                continue
            try:
                frame = parse_client_frame(message.data)
            except GateError as err:
                error = {"type": "error", "error": err.to_dict()}
                await self.ws.send_str(orjson.dumps(error).decode())
                continue
            if frame.get("action") == "stop":
                self.state.nacked += sum(1 for i in frame["event_ids"] if i in self.in_flight)
                return CLOSE_STOPPED, "the consumer stopped itself (nack stop)"
            for event_id in frame["event_ids"]:
                item = self.in_flight.pop(event_id, None)
                if item is not None:  # acks only count for events in flight to this consumer
                    await self._settle(item, event_id, frame.get("action", "ack"))
            self.room.set()
        return None

    async def _settle(self, item: Msg | _Replay, event_id: str, action: str) -> None:
        if action == "ack":
            self.state.acked += 1
        else:
            self.state.nacked += 1
        if isinstance(item, _Replay):
            await self._settle_replay(item, action)
            return
        attempt = self.attempts.pop(event_id, 1)
        if action in ("ack", "skip"):
            await item.ack()
        elif action == "retry" and attempt <= self.max_retries:
            await item.nak()
        else:  # park, or a retry past max_retries
            record = _record_of(item)
            reason = "nacked: park" if action == "park" else "max_retries"
            await self.owner._park(self.store, self.name, record, attempt, reason)
            await item.term()

    async def _settle_replay(self, replay: _Replay, action: str) -> None:
        if action in ("ack", "skip"):
            bucket = await self.owner._parked_bucket(self.store)
            await bucket.purge(replay.key)
        elif action == "retry" and replay.attempt <= self.max_retries:
            self.state.replays.appendleft(_Replay(replay.record, replay.key, replay.attempt + 1))
        # park, or past max_retries: it stays parked

    async def give_back(self) -> None:
        """Every event still in flight to this consumer goes back (a disconnect, a stop)."""
        items, self.in_flight = list(self.in_flight.values()), {}
        for item in items:
            if isinstance(item, _Replay):
                self.state.replays.appendleft(item)
            else:
                with contextlib.suppress(NatsError):
                    await item.nak()


def _record_of(msg: Msg) -> dict[str, Any]:
    return event_record(msg.subject, msg.data, msg.metadata.sequence.stream)


def _definition(info: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = orjson.loads(info["config"]["metadata"]["gate_definition"])
    return definition


def _selector(definition: dict[str, Any]) -> Selector:
    return parse_selector(definition["type"], definition["selector"])


def _not_found(name: str) -> GateError:
    return GateError("subscription_not_found", f"subscription {name!r} not found")

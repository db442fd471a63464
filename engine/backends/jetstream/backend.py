"""The ``Backend`` port (engine/backends/port.py) served by a NATS JetStream cluster.

The mapping (docs/ENGINE.md, "JetStream backend"; names in engine/backends/jetstream/naming.py):

- a store is a stream (file storage, ``replicas`` copies, atomic batches allowed) holding only
  its events, one message per event, so ``$all`` positions are the stream's sequence numbers,
  1, 2, 3... without a gap; its snapshots are a key-value bucket;
- event ``n`` of stream ``s`` is the message on the subject ``...e.<s>.<n>``: the version is in
  the subject, and an append of ``k`` events is one atomic batch (all or nothing, nats-server
  2.12+) whose first message carries ``Nats-Expected-Last-Subject-Sequence`` over the stream's
  subjects: two writers that both saw version ``v`` cannot both write ``v + 1``.  A batch that
  lost that race is re-read: ``any`` tries again at the new version, a stated version answers the
  409 ``wrong_expected_version`` Gate answers;
- each message carries ``Nats-Msg-Id`` (stream token and event id): a retry inside the stream's
  duplicate window is refused by the server and then recognised here, by its event ids at the
  versions it would have taken, as Gate recognises one (docs/API.md, "Events");
- every read is a ``STREAM.MSG.GET`` (not the direct get), which the stream's leader answers: a
  read sees every acknowledged write, so ``min_index`` and ``min_position`` need no waiting.

Persistent subscriptions are durable consumers (engine/backends/jetstream/subscriptions.py).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import orjson
from aiohttp import web
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import errors as js_errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from engine.backends.jetstream import naming
from engine.backends.jetstream.subscriptions import Subscriptions
from engine.backends.jetstream.wire import JetStreamError, event_record
from engine.backends.port import Written
from engine.protocol.errors import GateError, invalid
from engine.storage.event_store import expected_matches, iso_utc
from engine.storage.reads import DEFAULT_COUNT, plan_read

log = logging.getLogger("gate.backends.jetstream")

T = TypeVar("T")

# The oldest nats-server with atomic batch publish (and the subject of an expected sequence).
MIN_SERVER = (2, 12)
# nats-server's limit on the messages of one atomic batch (jetstream.max_batch_size, default).
MAX_BATCH = 1000
# How long the servers remember a message id: a retry within it is refused as a duplicate (and
# answered as Gate answers a retry); later, one with a stated expected_version is still
# recognised by its event ids, one with "any" would be written again (docs/ENGINE.md).
DUPLICATE_WINDOW_S = 600
# Streams whose last event this gateway remembers (the most recently written).
MAX_TIPS = 10_000
# How many of a stream's last events a retry of an "any" append is looked for among.
RETRY_SCAN = 2000
_NS = 1_000_000_000
# JetStream API error codes (err_code) this backend tells apart.
_STREAM_NOT_FOUND = 10059
_STREAM_NAME_IN_USE = 10058
_NO_MESSAGE = 10037
_WRONG_LAST_SEQUENCE = 10071
_DUPLICATE_IN_BATCH = 10201
# Answers that mean "not now" (no meta leader, the stream's leader moving): tried again.
_RETRY_DELAY = 0.1


@dataclass
class _Pending:
    """An append waiting for its turn, and its answer."""

    command: dict[str, Any]
    answer: asyncio.Future[Written]
    sent: bool = False  # whether a batch holding it left: from then on it may be written


@dataclass
class _Tip:
    """One stream's appends on this gateway: their queue and turn, and the stream's last event
    as the last of them left it (``known``), which saves reading it again before the next."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queue: collections.deque[_Pending] = field(default_factory=collections.deque)
    last: dict[str, Any] | None = None
    known: bool = False
    users: int = 0


class JetStreamBackend:
    """Gate's stores in a NATS JetStream cluster."""

    def __init__(
        self,
        urls: list[str],
        *,
        replicas: int,
        request_timeout: float,
        max_events: int,
        connect_options: dict[str, Any] | None = None,
    ) -> None:
        self.urls = urls
        self.replicas = replicas
        self.deadline = request_timeout
        self.max_events = min(max_events, MAX_BATCH)
        self._options = connect_options or {}
        self._nc: NatsClient | None = None
        self._connecting = asyncio.Lock()
        self._buckets: dict[str, KeyValue] = {}
        self.subscriptions = Subscriptions(self)
        self._tips: collections.OrderedDict[tuple[str, str], _Tip] = collections.OrderedDict()

    # -- the connection and the API ----------------------------------------------------------

    async def client(self) -> NatsClient:
        """The connection to the cluster (made at the first request, and again once closed)."""
        if self._nc is not None and not self._nc.is_closed:
            return self._nc
        async with self._connecting:
            if self._nc is None or self._nc.is_closed:
                try:
                    self._nc = await nats.connect(
                        servers=self.urls,
                        connect_timeout=2,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.2,
                        error_cb=_log_error,
                        **self._options,
                    )
                except (NatsError, OSError) as exc:
                    raise GateError("unavailable", f"no NATS server answers: {exc}") from None
                version = self._nc.connected_server_version
                if (version.major, version.minor) < MIN_SERVER:
                    # Older servers ignore the batch headers: an append would not be atomic.
                    await self._nc.close()
                    found = f"{version.major}.{version.minor}.{version.patch}"
                    raise GateError(
                        "unavailable",
                        f"nats-server {found} is too old for the JetStream backend: it needs"
                        f" {MIN_SERVER[0]}.{MIN_SERVER[1]} or later (atomic batch publish)",
                    )
            return self._nc

    async def _retrying(self, what: str, attempt: Callable[[float], Awaitable[T]]) -> T:
        """``attempt(remaining)`` until it answers, to the request deadline: a cluster without
        a meta leader, a stream whose leader moves and a lost connection are waited out."""
        deadline = time.monotonic() + self.deadline
        reason = "no answer"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GateError("unavailable", f"JetStream could not {what} in time: {reason}")
            try:
                return await attempt(remaining)
            except JetStreamError as exc:
                if exc.status != 503 and exc.status != 408:
                    raise
                reason = exc.description
            except (NatsError, TimeoutError, OSError) as exc:
                reason = str(exc) or type(exc).__name__
            await asyncio.sleep(min(_RETRY_DELAY, max(0.0, deadline - time.monotonic())))

    async def api(self, subject: str, request: dict[str, Any], what: str) -> dict[str, Any]:
        """A JetStream API request (``$JS.API.<subject>``), retried while JetStream is unsure."""
        payload = orjson.dumps(request)

        async def attempt(remaining: float) -> dict[str, Any]:
            nc = await self.client()
            msg = await nc.request(f"$JS.API.{subject}", payload, timeout=min(remaining, 2.0))
            answer: dict[str, Any] = orjson.loads(msg.data)
            if "error" in answer:
                raise JetStreamError(answer["error"])
            return answer

        return await self._retrying(what, attempt)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(NatsError):
                await self._nc.close()

    # -- stores ------------------------------------------------------------------------------

    async def create_store(self, command: dict[str, Any]) -> Written:
        store = command["store"]
        config = {
            "name": naming.stream_name(store),
            "subjects": [naming.events_subjects(store)],
            "storage": "file",
            "retention": "limits",
            "discard": "old",
            "num_replicas": self.replicas,
            "allow_atomic": True,
            "duplicate_window": DUPLICATE_WINDOW_S * _NS,
            # The creation's own epoch makes a second creation's config differ, so the server
            # refuses it (stream name in use) instead of answering it as a repeat.
            "metadata": {
                "gate_config": orjson.dumps(command["config"]).decode(),
                "gate_created_epoch": str(command["created_epoch"]),
            },
        }
        try:
            await self.api(f"STREAM.CREATE.{config['name']}", config, "create the store")
        except JetStreamError as exc:
            if exc.code == _STREAM_NAME_IN_USE:
                raise GateError("store_exists", f"store {store!r} already exists") from None
            raise _unexpected(exc, "create the store") from None
        await self._bucket(store, create=True)
        return {"store_id": store}, 0

    async def delete_store(self, command: dict[str, Any]) -> Written:
        store = command["store"]
        try:
            await self.api(f"STREAM.DELETE.{naming.stream_name(store)}", {}, "delete the store")
        except JetStreamError as exc:
            if exc.code == _STREAM_NOT_FOUND:
                raise _store_not_found(store) from None
            raise _unexpected(exc, "delete the store") from None
        for bucket in (naming.bucket_name(store), naming.parked_bucket_name(store)):
            self._buckets.pop(bucket, None)
            with contextlib.suppress(JetStreamError):
                await self.api(f"STREAM.DELETE.KV_{bucket}", {}, "delete the store's buckets")
        self.subscriptions.forget_store(store)
        return None, 0

    async def _stream_info(self, store: str, subjects: str | None = None) -> dict[str, Any]:
        """The store's stream info; with ``subjects`` every subject matching it (all pages)."""
        name = naming.stream_name(store)
        request: dict[str, Any] = {} if subjects is None else {"subjects_filter": subjects}
        found: dict[str, int] = {}
        while True:
            try:
                info = await self.api(f"STREAM.INFO.{name}", request, "read the store")
            except JetStreamError as exc:
                if exc.code == _STREAM_NOT_FOUND:
                    raise _store_not_found(store) from None
                raise _unexpected(exc, "read the store") from None
            if subjects is None:
                return info
            page = info["state"].get("subjects") or {}
            found.update(page)
            if not page or len(found) >= int(info.get("total", 0)):
                info["state"]["subjects"] = found
                return info
            request["offset"] = len(found)

    async def _store_info(self, store: str) -> dict[str, Any]:
        info = await self._stream_info(store, naming.first_events(store))
        metadata = info["config"].get("metadata") or {}
        last = int(info["state"]["last_seq"])
        return {
            "store_id": store,
            "status": "running",
            "config": orjson.loads(metadata.get("gate_config", "{}")),
            "streams": len(info["state"]["subjects"]),
            "events": last,
            "last_position": last,
        }

    async def _stores(self) -> list[str]:
        stores: list[str] = []
        offset = 0
        while True:
            page = await self.api("STREAM.NAMES", {"offset": offset}, "list the stores")
            names = page.get("streams") or []
            stores += [s for s in map(naming.store_of, names) if s is not None]
            offset += len(names)
            if not names or offset >= int(page.get("total", 0)):
                return sorted(stores)

    # -- events ------------------------------------------------------------------------------

    async def _get(self, store: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """One message of the store's stream (``seq`` or ``last_by_subj``), None if none."""
        try:
            answer = await self.api(
                f"STREAM.MSG.GET.{naming.stream_name(store)}", request, "read the events"
            )
        except JetStreamError as exc:
            if exc.code == _NO_MESSAGE:
                return None
            if exc.code == _STREAM_NOT_FOUND:
                raise _store_not_found(store) from None
            raise _unexpected(exc, "read the events") from None
        message: dict[str, Any] = answer["message"]
        return message

    async def _event(self, store: str, request: dict[str, Any]) -> dict[str, Any] | None:
        message = await self._get(store, request)
        return None if message is None else _record(message)

    async def events_at(self, store: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events of several gets, asked at once, in the order asked (missing ones left
        out)."""
        found = await asyncio.gather(*(self._event(store, r) for r in requests))
        return [e for e in found if e is not None]

    async def _last_event(self, store: str, stream: str) -> dict[str, Any] | None:
        return await self._event(store, {"last_by_subj": naming.stream_subjects(store, stream)})

    async def _version(self, store: str, stream: str) -> int:
        last = await self._last_event(store, stream)
        return -1 if last is None else int(last["event_number"])

    async def by_numbers(self, store: str, stream: str, numbers: range) -> list[dict[str, Any]]:
        """The events of ``stream`` with these numbers (those that exist), in that order."""
        requests = [{"last_by_subj": naming.event_subject(store, stream, n)} for n in numbers]
        return await self.events_at(store, requests)

    async def append(self, command: dict[str, Any]) -> Written:
        events: list[dict[str, Any]] = command["events"]
        if len(events) > self.max_events:
            raise invalid(
                f"events holds more than {self.max_events} events (one atomic batch)",
                field="events",
            )
        store, stream = command["store"], command["stream"]
        # This gateway's appends to one stream go in turn, and those that queued meanwhile go
        # together, as one atomic batch: one round trip to JetStream for all of them, where
        # each on its own would read the same last event and all but one lose the race.
        tip = self._tips.get((store, stream))
        if tip is None:
            tip = self._tips[store, stream] = _Tip()
        self._tips.move_to_end((store, stream))
        pending = _Pending(command, asyncio.get_running_loop().create_future())
        tip.queue.append(pending)
        tip.users += 1
        try:
            async with tip.lock:
                if not pending.answer.done():
                    await self._append_queued(tip)
            return await pending.answer
        finally:
            tip.users -= 1
            while len(self._tips) > MAX_TIPS:
                key, oldest = next(iter(self._tips.items()))
                if oldest.users:
                    break
                del self._tips[key]

    async def _append_queued(self, tip: _Tip) -> None:
        """Write the appends at the head of ``tip``'s queue (this one among them) as one batch
        of at most ``max_events`` events, and settle each."""
        group: list[_Pending] = []
        size = 0
        while tip.queue and (
            not group or size + len(tip.queue[0].command["events"]) <= self.max_events
        ):
            pending = tip.queue.popleft()
            group.append(pending)
            size += len(pending.command["events"])
        try:
            await self._append_group(tip, group)
        except GateError as err:
            for pending in group:
                if not pending.answer.done():
                    pending.answer.set_exception(_maybe_written(err, pending))
        except Exception as exc:  # a bug: every caller hears of it, none waits forever
            for pending in group:
                if not pending.answer.done():
                    pending.answer.set_exception(exc)
        except asyncio.CancelledError:
            # Its caller went away: the others of the group wait for the next turn, or, if
            # their batch left, hear that its outcome is unknown.
            for pending in reversed(group):
                if pending.answer.done():
                    continue
                if pending.sent:
                    unknown = GateError("unavailable", "the batch's answer was lost")
                    pending.answer.set_exception(_maybe_written(unknown, pending))
                else:
                    tip.queue.appendleft(pending)
            raise

    async def _append_group(
        self, tip: _Tip, group: list[_Pending], *, split_duplicates: bool = True
    ) -> None:
        """Check each append's expected version in turn after the stream's last event and write
        those that hold as one atomic batch, retried to the deadline when another gateway
        wrote first; an append that does not hold is a retry of stored events or a 409."""
        store, stream = group[0].command["store"], group[0].command["stream"]
        deadline = time.monotonic() + self.deadline
        while True:
            cached = tip.known
            last = tip.last if cached else await self._last_event(store, stream)
            tip.known = False  # until this batch's outcome is known
            current = -1 if last is None else int(last["event_number"])
            writing: list[_Pending] = []
            version = current
            refused: list[_Pending] = []
            for pending in group:
                if expected_matches(pending.command["expected_version"], version):
                    writing.append(pending)
                    version += len(pending.command["events"])
                else:
                    refused.append(pending)
            if refused and cached:
                continue  # another gateway may have written since: look, then judge
            for pending in refused:
                await self._refuse(pending, current)
            if not writing:
                tip.last, tip.known = last, True
                return
            last_seq = 0 if last is None else int(last["position"])
            events = [e for pending in writing for e in pending.command["events"]]
            for pending in writing:
                pending.sent = True
            try:
                seq = await self._publish(store, stream, events, current, last_seq)
            except JetStreamError as exc:
                if exc.code == _WRONG_LAST_SEQUENCE and time.monotonic() < deadline:
                    group = writing
                    continue  # another gateway took the version first: look again
                if exc.code == _DUPLICATE_IN_BATCH:
                    if not split_duplicates:
                        raise  # to _append_alone: is it a retry?
                    # A retry among them: each alone, so the others are not refused with it.
                    for pending in writing:
                        await self._append_alone(pending)
                    return
                if exc.code == _STREAM_NOT_FOUND:
                    raise _store_not_found(store) from None
                raise _unexpected(exc, "take the write") from None
            tip.last, tip.known = {"event_number": version, "position": seq}, True
            after = len(events)
            for pending in writing:
                after -= len(pending.command["events"])
                pending.answer.set_result(
                    ({"version": version - after, "position": seq - after}, seq - after)
                )

    async def _refuse(self, pending: _Pending, current: int) -> None:
        """An append whose expected version does not hold: a retry of what is stored (its
        result), or a 409."""
        command = pending.command
        store, stream = command["store"], command["stream"]
        expected = command["expected_version"]
        retried = await self._retry_result(store, stream, command["events"], expected, current)
        if retried is not None:
            pending.answer.set_result((retried, retried["position"]))
            return
        pending.answer.set_exception(
            GateError(
                "wrong_expected_version",
                f"stream {stream!r} is at version {current}, expected {expected}",
                current_version=current,
            )
        )

    async def _append_alone(self, pending: _Pending) -> None:
        """One append of a batch the servers refused for a duplicate message id."""
        command = pending.command
        store, stream = command["store"], command["stream"]
        events: list[dict[str, Any]] = command["events"]
        expected = command["expected_version"]
        try:
            alone = [_Pending(command, pending.answer, sent=True)]
            await self._append_group(_Tip(), alone, split_duplicates=False)
            return
        except JetStreamError:
            pass  # the duplicate: whether it is a retry, below
        except GateError as err:
            if not pending.answer.done():
                pending.answer.set_exception(_maybe_written(err, pending))
            return
        if pending.answer.done():
            return
        current = await self._version(store, stream)
        retried = await self._retry_result(store, stream, events, expected, current)
        if retried is not None:
            pending.answer.set_result((retried, retried["position"]))
            return
        pending.answer.set_exception(
            GateError(
                "wrong_expected_version",
                f"event ids conflict with events already in stream {stream!r}"
                f" (not a retry of the same events after version {expected})",
                current_version=current,
            )
        )

    async def _publish(
        self, store: str, stream: str, events: list[dict[str, Any]], current: int, last_seq: int
    ) -> int:
        """The events as one atomic batch after version ``current`` (whose message is
        ``last_seq``, 0 for none); the sequence of the last one."""
        batch = uuid.uuid4().hex
        tok = naming.token(stream)
        count = len(events)

        async def attempt(remaining: float) -> int:
            nc = await self.client()
            answer = None
            for k, event in enumerate(events):
                subject = naming.event_subject(store, stream, current + k + 1)
                headers = {
                    "Nats-Batch-Id": batch,
                    "Nats-Batch-Sequence": str(k + 1),
                    "Nats-Msg-Id": f"{tok}:{event['event_id']}",
                }
                if k == 0:
                    headers["Nats-Expected-Last-Subject-Sequence"] = str(last_seq)
                    headers["Nats-Expected-Last-Subject-Sequence-Subject"] = naming.stream_subjects(
                        store, stream
                    )
                body = orjson.dumps({"stream_id": stream, **event})
                if k < count - 1:
                    await nc.publish(subject, body, headers=headers)
                    continue
                headers["Nats-Batch-Commit"] = "1"
                answer = await nc.request(
                    subject, body, timeout=min(remaining, 5.0), headers=headers
                )
            assert answer is not None
            ack: dict[str, Any] = orjson.loads(answer.data) if answer.data else {}
            if "error" in ack:
                raise JetStreamError(ack["error"])
            if "seq" not in ack:
                raise JetStreamError({"code": 503, "description": "the batch was not stored"})
            return int(ack["seq"])

        # A new batch id each time round: a batch cut short by a lost connection is abandoned
        # by the server, and the message ids make a stored one a duplicate.
        def fresh(remaining: float) -> Awaitable[int]:
            nonlocal batch
            batch = uuid.uuid4().hex
            return attempt(remaining)

        return await self._retrying("take the write", fresh)

    async def _retry_result(
        self,
        store: str,
        stream: str,
        events: list[dict[str, Any]],
        expected: Any,
        current: int,
    ) -> dict[str, Any] | None:
        """``{"version", "position"}`` when ``events`` are stored already, right after
        ``expected`` (a retry, docs/API.md); None otherwise."""
        if current < 0:
            return None
        ids = [e["event_id"] for e in events]
        if isinstance(expected, int) or expected == "no_stream":
            first = 0 if expected == "no_stream" else int(expected) + 1
            stored = await self.by_numbers(store, stream, range(first, first + len(ids)))
        else:
            low = max(0, current - max(RETRY_SCAN, len(ids)) + 1)
            scanned = await self.by_numbers(store, stream, range(low, current + 1))
            starts = [i for i, e in enumerate(scanned) if e["event_id"] == ids[0]]
            if not starts:
                return None
            stored = scanned[starts[0] : starts[0] + len(ids)]
        if [e["event_id"] for e in stored] != ids:
            return None
        return {"version": stored[-1]["event_number"], "position": stored[-1]["position"]}

    # -- reads -------------------------------------------------------------------------------

    async def read(self, query: dict[str, Any], freshness: dict[str, int], wait_ms: int = 0) -> Any:
        # Validated as a node validates it; every answer comes from the streams' leaders, which
        # hold every acknowledged write, so the freshness asked for is already there.
        plan_read(query)
        kind = query["kind"]
        if kind == "stores":
            listed = await asyncio.gather(*(self._listed_store(s) for s in await self._stores()))
            return {"stores": [info for info in listed if info is not None]}
        store = query["store"]
        if kind == "store":
            return await self._store_info(store)
        if kind == "streams":
            return {"streams": await self._streams(store)}
        if kind == "version":
            return {
                "stream_id": query["stream"],
                "version": await self._version(store, query["stream"]),
            }
        if kind == "stream":
            return await self._read_stream(store, query)
        if kind == "all":
            return await self._read_all_waiting(store, query, wait_ms)
        if kind == "snapshot":
            return await self._snapshot(query)
        return {"snapshots": await self._snapshots(query)}

    async def _listed_store(self, store: str) -> dict[str, Any] | None:
        try:
            info = await self._store_info(store)
        except GateError as err:
            if err.code == "store_not_found":  # deleted meanwhile
                return None
            raise
        info.pop("config")
        return info

    async def _streams(self, store: str) -> list[dict[str, Any]]:
        info = await self._stream_info(store, naming.first_events(store))
        ids = sorted(naming.parse_event_subject(s)[0] for s in info["state"]["subjects"])
        versions = await asyncio.gather(*(self._version(store, s) for s in ids))
        return [{"stream_id": s, "version": v} for s, v in zip(ids, versions, strict=True)]

    async def _read_stream(self, store: str, query: dict[str, Any]) -> dict[str, Any]:
        stream = query["stream"]
        count = int(query.get("count") or DEFAULT_COUNT)
        start = None if query.get("from") is None else int(query["from"])
        version = await self._version(store, stream)  # store_not_found without the store
        if version < 0:
            return {"stream_id": stream, "version": -1, "events": []}
        if query.get("direction", "forward") == "forward":
            first = start or 0
            numbers = range(first, min(first + count, version + 1))
        else:
            top = version if start is None else min(start, version)
            numbers = range(top, max(top - count, -1), -1)
        events = await self.by_numbers(store, stream, numbers)
        return {"stream_id": stream, "version": version, "events": events}

    async def _read_all_waiting(
        self, store: str, query: dict[str, Any], wait_ms: int
    ) -> dict[str, Any]:
        """A read of ``$all``; with ``wait_ms``, a forward one that finds nothing waits that
        long for an event: a core NATS subscription to the store's subjects wakes it (a publish
        is seen before it is stored, so the stream is read again), made only while it waits,
        so a busy store's events are not sent to the gateway twice."""
        page = await self._read_all(store, query)
        if page["events"] or wait_ms <= 0 or query.get("direction", "forward") != "forward":
            return page
        deadline = time.monotonic() + wait_ms / 1000
        woken = asyncio.Event()

        async def wake(_: Any) -> None:
            woken.set()

        nc = await self.client()
        sub = await nc.subscribe(naming.events_subjects(store), cb=wake)
        try:
            while True:
                woken.clear()
                page = await self._read_all(store, query)  # after subscribing: nothing missed
                remaining = deadline - time.monotonic()
                if page["events"] or remaining <= 0:
                    return page
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), remaining)
        finally:
            with contextlib.suppress(NatsError):
                await sub.unsubscribe()

    async def _read_all(self, store: str, query: dict[str, Any]) -> dict[str, Any]:
        count = int(query.get("count") or DEFAULT_COUNT)
        start = int(query.get("from_position") or 0)
        last = int((await self._stream_info(store))["state"]["last_seq"])
        stream = query.get("stream")
        if stream is not None:
            events, read_to = await self._read_past(store, stream, start, count, last)
            return {"events": events, "read_to": read_to}
        if query.get("direction", "forward") == "forward":
            positions = range(start + 1, min(start + count, last) + 1)
        else:
            top = last if start == 0 else min(start - 1, last)
            positions = range(top, max(top - count, 0), -1)
        return {"events": await self.events_at(store, [{"seq": p} for p in positions])}

    async def _read_past(
        self, store: str, stream: str, position: int, count: int, last: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Up to ``count`` events of ``stream`` past ``position`` and how far the store was read
        (as EventStore.read_past): the first event number past it by a binary search."""
        version = await self._version(store, stream)
        low, high = 0, version + 1
        while low < high:
            middle = (low + high) // 2
            found = await self.by_numbers(store, stream, range(middle, middle + 1))
            if not found:
                raise GateError("unavailable", f"event {middle} of stream {stream!r} is missing")
            if found[0]["position"] > position:
                high = middle
            else:
                low = middle + 1
        events = await self.by_numbers(store, stream, range(low, min(low + count, version + 1)))
        events = [e for e in events if e["position"] <= last]
        return events, events[-1]["position"] if len(events) == count else last

    # -- snapshots ---------------------------------------------------------------------------

    async def _bucket(self, store: str, *, create: bool = False) -> KeyValue:
        """The store's snapshot bucket."""
        return await self.key_value(store, naming.bucket_name(store), create=create)

    async def key_value(self, store: str, name: str, *, create: bool = False) -> KeyValue:
        """One of the store's key-value buckets (its snapshots, its parked events); with
        ``create``, made if it does not exist."""
        bucket = self._buckets.get(name)
        if bucket is not None:
            return bucket

        async def attempt(remaining: float) -> KeyValue:
            js = (await self.client()).jetstream(timeout=min(remaining, 2.0))
            if create:
                # Not the direct get: a bucket's reads go to its leader, as the events' do.
                config = KeyValueConfig(
                    bucket=name, history=1, replicas=self.replicas, storage=StorageType.FILE
                )
                config.direct = False
                return await js.create_key_value(config)
            try:
                return await js.key_value(name)
            except js_errors.BucketNotFoundError:
                await self._stream_info(store)  # store_not_found when the store is missing
                raise GateError("unavailable", f"bucket {name} of {store!r} is missing") from None

        bucket = await self._retrying("reach a bucket", attempt)
        self._buckets[name] = bucket
        return bucket

    async def put_snapshot(self, command: dict[str, Any]) -> Written:
        store = command["store"]
        key = naming.snapshot_key(
            command["source_uuid"], command["stream_uuid"], command["version"]
        )
        record = {
            "source_uuid": command["source_uuid"],
            "stream_uuid": command["stream_uuid"],
            "source_version": command["version"],
            "source_type": command.get("source_type"),
            "data": command["data"],
            "metadata": command.get("metadata", {}),
            "created_epoch": command["created_epoch"],
        }
        bucket = await self._bucket(store)
        await self._retrying("store the snapshot", lambda _: bucket.put(key, orjson.dumps(record)))
        return None, 0

    async def delete_snapshot(self, command: dict[str, Any]) -> Written:
        bucket = await self._bucket(command["store"])
        key = naming.snapshot_key(
            command["source_uuid"], command["stream_uuid"], command["version"]
        )
        await self._retrying("delete the snapshot", lambda _: bucket.purge(key))
        return None, 0

    async def _snapshot(self, query: dict[str, Any]) -> dict[str, Any]:
        store, source, stream = query["store"], query["source_uuid"], query["stream_uuid"]
        version = int(query["version"])
        bucket = await self._bucket(store)
        key = naming.snapshot_key(source, stream, version)

        async def get(_: float) -> bytes | None:
            try:
                return (await bucket.get(key)).value
            except js_errors.KeyNotFoundError:
                return None

        value = await self._retrying("read the snapshot", get)
        if not value:
            raise GateError(
                "snapshot_not_found",
                f"no snapshot {source}/{stream}/{version} in store {store!r}",
            )
        return _snapshot_record(value)

    async def _snapshots(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        store = query["store"]
        source, stream = query.get("source_uuid") or None, query.get("stream_uuid") or None
        bucket = await self._bucket(store)

        async def keys(_: float) -> list[str]:
            try:
                return await bucket.keys()
            except js_errors.NoKeysError:
                return []

        wanted = sorted(
            parsed
            for parsed in map(naming.parse_snapshot_key, await self._retrying("list", keys))
            if (source is None or parsed[0] == source) and (stream is None or parsed[1] == stream)
        )
        found = await asyncio.gather(
            *(
                self._snapshot({"store": store, "source_uuid": s, "stream_uuid": u, "version": v})
                for s, u, v in wanted
            ),
            return_exceptions=True,
        )
        # One deleted between the listing and its read is left out.
        return [f for f in found if isinstance(f, dict)]

    # -- persistent subscriptions (engine/backends/jetstream/subscriptions.py) ----------------

    async def put_subscription(self, command: dict[str, Any]) -> Written:
        return await self.subscriptions.put(command)

    async def delete_subscription(self, command: dict[str, Any]) -> Written:
        return await self.subscriptions.delete(command["store"], command["name"])

    async def list_subscriptions(self, store: str) -> Any:
        return {"subscriptions": await self.subscriptions.listing(store)}

    async def replay_parked(self, store: str, name: str) -> Any:
        return await self.subscriptions.replay_parked(store, name)

    async def consume(self, request: web.Request, store: str, name: str) -> web.WebSocketResponse:
        return await self.subscriptions.consume(request, store, name)


def _record(message: dict[str, Any]) -> dict[str, Any]:
    """The event record (docs/API.md) of a message as ``STREAM.MSG.GET`` answers it."""
    return event_record(message["subject"], base64.b64decode(message["data"]), int(message["seq"]))


def _snapshot_record(value: bytes) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(value)
    record["created_at"] = iso_utc(int(record["created_epoch"]))
    return record


def _store_not_found(store: str) -> GateError:
    return GateError("store_not_found", f"store {store!r} not found")


def _maybe_written(err: GateError, pending: _Pending) -> GateError:
    """A 503 says nothing was written: after a batch holding the append left, that is not
    known, and the answer is a 504."""
    if not pending.sent or err.code != "unavailable":
        return err
    return GateError(
        "timeout",
        f"{err.message}; the write may or may not have happened: retry with the same event ids",
    )


def _unexpected(exc: JetStreamError, what: str) -> GateError:
    return GateError(
        "unavailable", f"JetStream could not {what}: {exc.description} (error {exc.code})"
    )


async def _log_error(exc: Exception) -> None:
    """nats-py's default error callback prints a traceback; a reconnect is no news."""
    log.debug("NATS connection: %s", exc)

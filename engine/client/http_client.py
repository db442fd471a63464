"""``GateClient``: the asyncio client of the gateway's public HTTP API.

Everything that talks to a cluster goes through it: the console, the greenhouse producers, the
tests.  It retries what is safe to retry (reads, and appends, whose event ids it fixes before the
first attempt so a retry can never write twice) until a deadline, and it remembers the last
position it wrote in each store so its reads see its own writes (``min_position``).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import orjson

from engine.client import subscriptions as subscription_client
from engine.client.results import (
    Appended,
    ClusterEvent,
    ClusterView,
    EventRecord,
    InsideMessage,
    LinkFaultsAnswer,
    LinkFaultsCleared,
    LinkFaultView,
    LinksAnswer,
    MemberAnswer,
    MessageDropped,
    NodeLogPage,
    ObserverMessage,
    Snapshot,
    StoreInfo,
    StoreSummary,
    StreamInfo,
    StreamSlice,
    SubscriptionInfo,
    SubscriptionPut,
    TempoAnswer,
    TempoView,
    TraceBatch,
    TransferAnswer,
    Whoami,
)
from engine.client.subscriptions import ConnectionListener, Consumer
from engine.protocol.errors import RETRYABLE, GateError
from engine.protocol.json_input import check_integers, dumps_exact
from engine.tls import client_context, describe_connect_error
from engine.transport.http_pool import HttpPool, HttpProtocolError, TlsRefused


def _seg(value: str) -> str:
    """One URL path segment, percent-encoded ('$' and the like stay intact on the server)."""
    return quote(str(value), safe="")


class GateClient:
    """Asynchronous client of one gateway.

    ``retry_deadline`` bounds how long one call keeps retrying a cluster that is unavailable
    (an election, a restarting node); 0 disables retries.

    An ``https://`` URL verifies the gateway's certificate against ``ca`` (a PEM file; the
    system's CAs without it) and shows ``cert``/``key`` to a gateway that asks for a client
    certificate (``clientAuth``). A file that cannot be used raises ``TlsError`` here; a
    failed TLS handshake is a ``GateError`` with the client-side code ``tls_failed``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        retry_deadline: float = 10.0,
        request_timeout: float = 15.0,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry_deadline = retry_deadline
        self.request_timeout = request_timeout
        self.last_positions: dict[str, int] = {}
        # Log index of this client's last write (the gateway's Gate-Log-Index header).
        self.last_index = 0
        self._session: aiohttp.ClientSession | None = None  # WebSockets only
        url = urlsplit(self.base_url)
        self._prefix = url.path
        self._pool: HttpPool | None = None
        self.tls: ssl.SSLContext | None = None
        if url.scheme == "https":
            self.tls = client_context(ca, cert, key)
        if url.scheme in ("http", "https") and url.hostname:
            self._pool = HttpPool(url.hostname, url.port or (443 if self.tls else 80), tls=self.tls)
        self._headers = [("Authorization", f"Bearer {token}")] if token else []

    async def __aenter__(self) -> GateClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the client's connections."""
        if self._pool is not None:
            self._pool.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._session = aiohttp.ClientSession(
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
                connector=aiohttp.TCPConnector(limit=64, ssl=self.tls or True),
            )
        return self._session

    async def _once(
        self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        if self._pool is None:
            raise GateError(
                "unavailable", f"not an http:// or https:// gateway URL: {self.base_url}"
            )
        target = self._prefix + path
        query: dict[str, str] = {}
        for key, value in (params or {}).items():
            if value is not None:
                check_integers(value, key)
                query[key] = str(value)
        if query:
            target += "?" + urlencode(query, quote_via=quote)
        data = None
        headers = self._headers
        if body is not None:
            data = dumps_exact(body)
            headers = [*headers, ("Content-Type", "application/json")]
        try:
            async with asyncio.timeout(self.request_timeout):
                response = await self._pool.request(method, target, data, headers)
        except TimeoutError:
            raise GateError("timeout", f"no answer from the gateway at {self.base_url}") from None
        except (ssl.SSLError, TlsRefused) as exc:  # an untrusted certificate, no client one
            # Its own code, not a retryable "unavailable": retrying cannot make it trusted.
            why = str(exc) if isinstance(exc, TlsRefused) else describe_connect_error(exc)
            raise GateError(
                "tls_failed", f"cannot reach the gateway at {self.base_url}: {why}"
            ) from None
        except OSError as exc:  # refused, reset, unreadable (HttpProtocolError)
            reason = exc if isinstance(exc, HttpProtocolError) else exc.strerror or exc
            raise GateError(
                "unavailable", f"cannot reach the gateway at {self.base_url}: {reason}"
            ) from None
        status, raw = response.status, response.body
        index = response.headers.get("gate-log-index")
        if index is not None and index.isdigit():
            self.last_index = max(self.last_index, int(index))
        if status == 204 or not raw:
            if status >= 400:
                raise GateError("internal", f"HTTP {status} from {method} {path}")
            return None
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise GateError(
                "internal", f"HTTP {status} from {method} {path}: not JSON: {raw[:120]!r}"
            ) from None
        if status >= 400:
            err = payload.get("error") if isinstance(payload, dict) else None
            if isinstance(err, dict):
                raise GateError.from_dict(err)
            raise GateError("internal", f"HTTP {status} from {method} {path}")
        return payload

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        *,
        retry: bool = True,
    ) -> Any:
        deadline = time.monotonic() + (self.retry_deadline if retry else 0.0)
        delay = 0.05
        while True:
            try:
                return await self._once(method, path, body, params)
            except GateError as exc:
                if exc.code not in RETRYABLE or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    # -- events ------------------------------------------------------------------------------

    async def append(
        self,
        store: str,
        stream: str,
        events: list[dict[str, Any]],
        expected_version: int | str = "any",
    ) -> Appended:
        """Append events to a stream; returns ``{"version", "position"}``.

        Events lacking an ``event_id`` get one here, before the first attempt, so retries
        after a timeout or a failover are idempotent.
        """
        prepared = [e if "event_id" in e else {**e, "event_id": str(uuid.uuid4())} for e in events]
        body = {"expected_version": expected_version, "events": prepared}
        result: Appended = await self._call(
            "POST", f"/api/stores/{_seg(store)}/streams/{_seg(stream)}/events", body
        )
        pos = int(result["position"])
        if pos > self.last_positions.get(store, 0):
            self.last_positions[store] = pos
        return result

    def _freshness(self, store: str | None = None) -> dict[str, int | None]:
        """Query parameters that make a read see this client's own writes."""
        return {
            "min_position": self.last_positions.get(store) if store else None,
            "min_index": self.last_index or None,
        }

    async def read_stream(
        self,
        store: str,
        stream: str,
        start: int | None = None,
        count: int = 100,
        direction: str = "forward",
    ) -> StreamSlice:
        """Read a stream slice: ``{"stream_id", "version", "events"}``."""
        params = {
            "from": start,
            "count": count,
            "direction": direction,
            **self._freshness(store),
        }
        result: StreamSlice = await self._call(
            "GET", f"/api/stores/{_seg(store)}/streams/{_seg(stream)}/events", params=params
        )
        return result

    async def stream_version(self, store: str, stream: str) -> int:
        """The stream's current version (-1 when it does not exist)."""
        result = await self._call(
            "GET",
            f"/api/stores/{_seg(store)}/streams/{_seg(stream)}/version",
            params=self._freshness(store),
        )
        return int(result["version"])

    async def list_streams(self, store: str) -> list[StreamInfo]:
        """All streams of a store with their versions."""
        result = await self._call(
            "GET",
            f"/api/stores/{_seg(store)}/streams",
            params=self._freshness(store),
        )
        streams: list[StreamInfo] = result["streams"]
        return streams

    async def read_all(
        self, store: str, from_position: int = 0, count: int = 100, direction: str = "forward"
    ) -> list[EventRecord]:
        """Events of the whole store in global order (``from_position`` is exclusive)."""
        params = {
            "from_position": from_position,
            "count": count,
            "direction": direction,
            **self._freshness(store),
        }
        result = await self._call("GET", f"/api/stores/{_seg(store)}/all", params=params)
        events: list[EventRecord] = result["events"]
        return events

    # -- stores ------------------------------------------------------------------------------

    async def list_stores(self) -> list[StoreSummary]:
        """All stores with their status and counts."""
        stores: list[StoreSummary] = (
            await self._call("GET", "/api/stores", params=self._freshness())
        )["stores"]
        return stores

    async def create_store(self, store_id: str, config: dict[str, Any] | None = None) -> None:
        """Create a store (``GateError('store_exists')`` when it exists)."""
        body: dict[str, Any] = {"store_id": store_id}
        if config is not None:
            body["config"] = config
        await self._call("POST", "/api/stores", body)

    async def get_store(self, store_id: str) -> StoreInfo:
        """One store's status, config and counts."""
        store: StoreInfo = await self._call(
            "GET", f"/api/stores/{_seg(store_id)}", params=self._freshness(store_id)
        )
        return store

    async def delete_store(self, store_id: str) -> None:
        """Delete a store and all its events."""
        await self._call("DELETE", f"/api/stores/{_seg(store_id)}")

    # -- snapshots ---------------------------------------------------------------------------

    def _snapshot_path(self, store: str, source_uuid: str, stream_uuid: str, version: int) -> str:
        check_integers(int(version), "version")
        return (
            f"/api/stores/{_seg(store)}/snapshots/{_seg(source_uuid)}/{_seg(stream_uuid)}"
            f"/{int(version)}"
        )

    async def put_snapshot(
        self,
        store: str,
        source_uuid: str,
        stream_uuid: str,
        version: int,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        source_type: str | None = None,
    ) -> None:
        """Record (or overwrite) a snapshot."""
        body: dict[str, Any] = {"data": data}
        if metadata is not None:
            body["metadata"] = metadata
        if source_type is not None:
            body["source_type"] = source_type
        await self._call("PUT", self._snapshot_path(store, source_uuid, stream_uuid, version), body)

    async def get_snapshot(
        self, store: str, source_uuid: str, stream_uuid: str, version: int
    ) -> Snapshot:
        """Read one snapshot (``GateError('snapshot_not_found')`` when absent)."""
        snapshot: Snapshot = await self._call(
            "GET",
            self._snapshot_path(store, source_uuid, stream_uuid, version),
            params=self._freshness(store),
        )
        return snapshot

    async def delete_snapshot(
        self, store: str, source_uuid: str, stream_uuid: str, version: int
    ) -> None:
        """Delete one snapshot."""
        await self._call("DELETE", self._snapshot_path(store, source_uuid, stream_uuid, version))

    async def list_snapshots(
        self, store: str, source_uuid: str | None = None, stream_uuid: str | None = None
    ) -> list[Snapshot]:
        """Snapshots of a store, optionally of one source and stream."""
        params = {"source_uuid": source_uuid, "stream_uuid": stream_uuid, **self._freshness(store)}
        result = await self._call("GET", f"/api/stores/{_seg(store)}/snapshots", params=params)
        snapshots: list[Snapshot] = result["snapshots"]
        return snapshots

    # -- subscriptions -----------------------------------------------------------------------

    def observe(
        self,
        store: str,
        selector: dict[str, Any] | None = None,
        from_position: int | None = None,
        buffer: int | None = None,
        *,
        keep_trying: bool = False,
        on_connection: ConnectionListener | None = None,
    ) -> AsyncIterator[ObserverMessage]:
        """Observe a store's committed events live (WebSocket), reconnecting by itself.

        ``selector`` is ``{kind: value}``, e.g. ``{"by_event_type": "temperature_measured:v1"}``
        (every event when None).  With ``from_position`` the observer first catches up on the
        events after that position.  Yields ``{"type": "events", "events": [...]}``,
        ``{"type": "dropped", "count": N}`` (this observer was too slow: N matching events were
        dropped) and ``{"type": "live", "position": P}`` (caught up; live from position P on,
        once per connection).  After a lost connection it continues after the last position it
        saw, so nothing is skipped or repeated.  It gives up with ``unavailable`` after
        ``retry_deadline`` without a connection; with ``keep_trying`` it reconnects until closed
        once it has connected.  ``on_connection(False, reason)`` is told when the connection is
        lost, ``on_connection(True, "")`` when it is back.
        """
        return subscription_client.observe(
            self,
            store,
            selector,
            from_position,
            buffer,
            keep_trying=keep_trying,
            on_connection=on_connection,
        )

    def trace(
        self,
        *,
        interval_ms: int | None = None,
        detail: int | None = None,
        heartbeats: str | None = None,
        received: bool = False,
        keep_trying: bool = False,
        on_connection: ConnectionListener | None = None,
    ) -> AsyncIterator[TraceBatch]:
        """Every node's Raft messages, merged and folded per interval (WebSocket
        ``/api/cluster/trace``, docs/API.md "Message trace"), reconnecting by itself as
        ``observe`` does.  Yields ``{"type": "trace", "time", "interval", "lines"}``."""
        check_integers(interval_ms, "interval_ms")
        check_integers(detail, "detail")
        params = {
            "interval_ms": interval_ms,
            "detail": detail,
            "heartbeats": heartbeats,
            "received": "true" if received else None,
        }
        query = {k: str(v) for k, v in params.items() if v is not None}
        return subscription_client.trace(
            self, query, keep_trying=keep_trying, on_connection=on_connection
        )

    def inside(
        self,
        *,
        keep_trying: bool = False,
        on_connection: ConnectionListener | None = None,
    ) -> AsyncIterator[InsideMessage]:
        """Each node's inside (term, vote, commit, applied, log span, election timer, the
        leader's match/next), sent as it changes, several times a second whatever the tempo
        (WebSocket ``/api/cluster/inside``, docs/API.md "Nodes' inside"), reconnecting by
        itself as ``observe`` does.  Yields ``{"type": "inside", "time", "nodes"}``."""
        return subscription_client.inside(
            self, keep_trying=keep_trying, on_connection=on_connection
        )

    async def put_subscription(
        self,
        store: str,
        name: str,
        selector: dict[str, Any] | None = None,
        *,
        start_from: int | str | None = None,
        ack_timeout_ms: int | None = None,
        max_retries: int | None = None,
        max_in_flight: int | None = None,
    ) -> SubscriptionPut:
        """Define a persistent subscription; the answer says whether it was ``created``.

        Putting the same definition again is fine; a different one under the same name raises
        ``GateError('subscription_exists')``.  ``start_from``: ``"origin"`` (default),
        ``"current"``, or the first event number (``$<stream>`` selectors) or position to deliver.
        """
        body: dict[str, Any] = {
            "selector": selector or {"by_stream": "$all"},
            "start_from": start_from,
            "ack_timeout_ms": ack_timeout_ms,
            "max_retries": max_retries,
            "max_in_flight": max_in_flight,
        }
        body = {k: v for k, v in body.items() if v is not None}
        put: SubscriptionPut = await self._call("PUT", self._subscription_path(store, name), body)
        return put

    async def list_subscriptions(self, store: str) -> list[SubscriptionInfo]:
        """The store's subscriptions with their checkpoints and counters."""
        result = await self._call("GET", f"/api/stores/{_seg(store)}/subscriptions")
        subscriptions: list[SubscriptionInfo] = result["subscriptions"]
        return subscriptions

    async def delete_subscription(self, store: str, name: str) -> None:
        """Delete a subscription, its checkpoint and its parked events."""
        await self._call("DELETE", self._subscription_path(store, name))

    async def replay_parked(self, store: str, name: str) -> None:
        """Deliver the subscription's parked events again."""
        await self._call("POST", self._subscription_path(store, name) + "/replay-parked")

    def consume(
        self,
        store: str,
        name: str,
        *,
        keep_trying: bool = False,
        on_connection: ConnectionListener | None = None,
    ) -> Consumer:
        """A consumer of a persistent subscription: ``async with client.consume(...) as c``.

        Iterate it for batches of events (each with its ``attempt``), then
        ``await c.ack(ids)`` or ``await c.nack(ids, "retry" | "park" | "skip" | "stop")``.
        Reconnection, ``keep_trying`` and ``on_connection`` are as for :meth:`observe`.
        """
        return Consumer(self, store, name, keep_trying=keep_trying, on_connection=on_connection)

    def _subscription_path(self, store: str, name: str) -> str:
        return f"/api/stores/{_seg(store)}/subscriptions/{_seg(name)}"

    # -- plumbing for the WebSocket iterators ------------------------------------------------

    segment = staticmethod(_seg)

    def websocket(self, path: str, params: Mapping[str, str]) -> Any:
        """``async with client.websocket(path, params) as ws``: a WebSocket to the gateway."""
        return self._http().ws_connect(
            self.base_url + path, params=dict(params) or None, heartbeat=20
        )

    async def request_once(
        self, method: str, path: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        """One request without retries (the WebSocket iterators use it to explain errors)."""
        return await self._once(method, path, None, params)

    # -- cluster -----------------------------------------------------------------------------

    async def whoami(self) -> Whoami:
        """The name and role of this client's token (``GET /api/whoami``)."""
        result: Whoami = await self._call("GET", "/api/whoami", retry=False)
        return result

    async def cluster(self) -> ClusterView:
        """The gateway's view of the cluster (leader, term, every node's health)."""
        view: ClusterView = await self._call("GET", "/api/cluster", retry=False)
        return view

    async def node_action(self, node_id: str, action: str) -> None:
        """stop | kill | start | restart | pause | resume a node the gateway manages."""
        await self._call("POST", f"/api/cluster/nodes/{_seg(node_id)}/{_seg(action)}", retry=False)

    async def transfer_leadership(self, node_id: str) -> TransferAnswer:
        """Ask the leader to hand leadership over to ``node_id`` (202 once it has started)."""
        path = f"/api/cluster/nodes/{_seg(node_id)}/transfer"
        result: TransferAnswer = await self._call("POST", path, retry=False)
        return result

    async def add_node(
        self, node_id: str, *, http: tuple[str, int], tcp: tuple[str, int]
    ) -> MemberAnswer:
        """Add ``node_id``, listening on ``http`` and ``tcp`` (host, port): it joins as a
        learner, and a gateway that starts nodes launches it (202 once the change is in the
        log; ``node_exists``, ``port_in_use``, ``change_in_progress``: 409)."""
        body = {
            "node_id": node_id,
            "http": {"host": http[0], "port": http[1]},
            "tcp": {"host": tcp[0], "port": tcp[1]},
        }
        result: MemberAnswer = await self._call("POST", "/api/cluster/nodes", body, retry=False)
        return result

    async def remove_node(self, node_id: str) -> MemberAnswer:
        """Remove ``node_id`` from the cluster (a leader hands over first; a managed node is
        then stopped).  ``change_in_progress`` or ``quorum_too_small``: 409."""
        path = f"/api/cluster/nodes/{_seg(node_id)}"
        result: MemberAnswer = await self._call("DELETE", path, retry=False)
        return result

    async def isolate(
        self, node_id: str, peers: list[str] | None = None, direction: str = "both"
    ) -> LinksAnswer:
        """Cut ``node_id``'s Raft links to ``peers`` (every peer when None) in ``direction``
        (both, in or out); the answer holds the node's links as they are now."""
        return await self._links(node_id, "isolate", peers, direction)

    async def heal(
        self, node_id: str, peers: list[str] | None = None, direction: str = "both"
    ) -> LinksAnswer:
        """Restore ``node_id``'s Raft links to ``peers`` (every peer when None)."""
        return await self._links(node_id, "heal", peers, direction)

    async def _links(
        self, node_id: str, action: str, peers: list[str] | None, direction: str
    ) -> LinksAnswer:
        body: dict[str, Any] = {"direction": direction}
        if peers is not None:
            body["peers"] = peers
        path = f"/api/cluster/nodes/{_seg(node_id)}/{action}"
        result: LinksAnswer = await self._call("POST", path, body, retry=False)
        return result

    async def tempo(self) -> TempoView:
        """The cluster's tempo (docs/API.md, "Tempo")."""
        result: TempoView = await self._call("GET", "/api/cluster/tempo")
        return result

    async def set_tempo(self, scale: int) -> TempoAnswer:
        """Run the cluster ``scale`` times slower (1: full speed)."""
        body = {"scale": scale}
        result: TempoAnswer = await self._call("POST", "/api/cluster/tempo", body, retry=False)
        return result

    async def link_faults(self) -> LinkFaultsAnswer:
        """Every link fault, asked of the nodes (docs/API.md, "Link faults")."""
        result: LinkFaultsAnswer = await self._call("GET", "/api/cluster/links")
        return result

    async def set_link_fault(
        self,
        frm: str,
        to: str,
        *,
        drop: float = 0.0,
        delay_ms: int = 0,
        duplicate: float = 0.0,
        seed: int | None = None,
    ) -> LinkFaultView:
        """Make the Raft link from ``frm`` to ``to`` (one direction) lossy, slow or repetitive."""
        body: dict[str, Any] = {
            "from": frm,
            "to": to,
            "drop": drop,
            "delayMs": delay_ms,
            "duplicate": duplicate,
        }
        if seed is not None:
            body["seed"] = seed
        result: LinkFaultView = await self._call("POST", "/api/cluster/links", body, retry=False)
        return result

    async def drop_message(self, node: str, trace_id: int) -> MessageDropped:
        """Drop the message ``node`` sent with ``trace_id`` (its seq in the trace) while it is
        still on its way; ``message_not_found`` (404) once it has gone."""
        body = {"node": node, "id": trace_id}
        result: MessageDropped = await self._call(
            "POST", "/api/cluster/links/drop", body, retry=False
        )
        return result

    async def clear_link_faults(
        self, frm: str | None = None, to: str | None = None
    ) -> LinkFaultsCleared:
        """Clear the link faults from ``frm``, to ``to``, between them, or (neither) all."""
        params = {"from": frm, "to": to}
        result: LinkFaultsCleared = await self._call(
            "DELETE", "/api/cluster/links", params=params, retry=False
        )
        return result

    async def node_log(
        self, node_id: str, *, after: int | None = None, limit: int | None = None
    ) -> NodeLogPage:
        """A node's recent log lines, asked of that node through the gateway (docs/API.md,
        "Node log"): the newest ``limit`` without ``after``, else the lines past ``after``."""
        params = {"after": after, "limit": limit}
        path = f"/api/cluster/nodes/{_seg(node_id)}/log"
        result: NodeLogPage = await self._call("GET", path, params=params, retry=False)
        return result

    async def health(self) -> bool:
        """True when the gateway answers ``GET /health``."""
        try:
            await self._once("GET", "/health")
        except GateError:
            return False
        return True

    async def ready(self) -> bool:
        """True when the gateway can serve writes (``GET /ready``)."""
        try:
            await self._once("GET", "/ready")
        except GateError:
            return False
        return True

    async def cluster_events(self) -> AsyncIterator[ClusterEvent]:
        """The cluster event feed (WebSocket): views and node_up/node_down/leader_changed."""
        async with self._http().ws_connect(self.base_url + "/api/cluster/events") as ws:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    yield orjson.loads(msg.data)
                elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break

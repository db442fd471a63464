"""The engine session: start the embedded cluster in the background, or attach to a gateway.

With no ``connect`` URL it starts ``EmbeddedCluster`` from the bundled default config (or
``config``), optionally clearing its data, and stops it again on close.  With ``connect`` it
attaches to a running gateway and starts nothing.  Every failure is a :class:`SessionError`
with a one-line reason, so a front end can print it and exit non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from domain.greenhouse.catalogue import STORE_ID
from domain.greenhouse.producer import ensure_store
from engine.client import (
    ConfigError,
    EmbeddedCluster,
    GateClient,
    GateError,
    LaunchError,
    TlsError,
)
from engine.config_model import Role


class SessionError(Exception):
    """Why the session could not start, in one line."""


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """The engine options shared by ``gate-repl`` and ``gate-console`` (docs/API.md)."""

    config: Path | None = None
    connect: str | None = None
    clear: bool = False
    token: str | None = None
    store: str = STORE_ID
    read_only: bool = False  # --read-only: a reader, whatever the token may do
    # TLS for an https:// gateway (--ca/--cert/--key); an embedded cluster's come from its config.
    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Access:
    """Who the console runs as: its token's name and role (``auth`` "none": no tokens exist,
    everyone is an admin), the role capped at reader by ``--read-only``."""

    name: str = "anonymous"
    role: Role = "admin"
    auth: str = "none"
    read_only: bool = False

    @property
    def label(self) -> str:
        """How the status bar and the toolbar name it; empty when nothing limits anyone."""
        if self.auth == "none":
            return "read-only" if self.read_only else ""
        # The role first: a narrow status line cuts the end.
        return f"{self.role} ({self.name}{', read-only' if self.read_only else ''})"


class EngineSession:
    """A client of the cluster, and the cluster itself when this session started it."""

    def __init__(self, options: SessionOptions, *, retry_deadline: float = 5.0) -> None:
        if options.connect and (options.config or options.clear):
            raise SessionError("--connect attaches to a running gateway: drop --config and --clear")
        self.options = options
        self.retry_deadline = retry_deadline
        self.embedded: EmbeddedCluster | None = None
        self.client: GateClient | None = None
        self.url = options.connect.rstrip("/") if options.connect else ""
        self._tls: dict[str, str] = {
            name: value
            for name, value in (("ca", options.ca), ("cert", options.cert), ("key", options.key))
            if value is not None
        }
        self.access = Access(read_only=options.read_only)

    @property
    def store(self) -> str:
        """The store the console works on."""
        return self.options.store

    @property
    def started_engine(self) -> bool:
        """Whether this session started the cluster (and will stop it)."""
        return self.embedded is not None

    async def open(self) -> GateClient:
        """Start or attach; answers the session's client."""
        if self.options.connect:
            client = self._client(self.options.token, self.retry_deadline)
            try:
                await client.request_once("GET", "/health")
            except GateError as exc:
                await client.close()
                # An untrusted certificate says which option is missing; the rest is unreachable.
                reason = f": {exc.message.split(': ', 1)[-1]}" if exc.code == "tls_failed" else ""
                raise SessionError(f"cannot reach a Gate gateway at {self.url}{reason}") from None
        else:
            client = await self._start_embedded()
        self.client = client
        try:
            self.access = await self._access(client)
            if self.access.role == "admin":  # only an admin may create it
                await ensure_store(client, self.store)
            else:
                await self._check_store(client)
        except GateError as exc:
            await self.close()
            if exc.code == "unauthorized":
                raise SessionError(
                    f"the gateway at {self.url} refused the token (use --token)"
                ) from None
            raise SessionError(
                f"the gateway at {self.url} answered {exc.code}: {exc.message}"
            ) from None
        return client

    async def _check_store(self, client: GateClient) -> None:
        """A store that a reader or writer could not create must exist."""
        known = sorted(store["store_id"] for store in await client.list_stores())
        if self.store not in known:
            await self.close()
            raise SessionError(
                f"there is no store {self.store!r} at {self.url} (stores: "
                f"{', '.join(known) or 'none'}); only an admin creates one"
            )

    async def _access(self, client: GateClient) -> Access:
        who = await client.whoami()
        role: Role = "reader" if self.options.read_only else who["role"]
        return Access(who["name"], role, who["auth"], self.options.read_only)

    async def _start_embedded(self) -> GateClient:
        try:
            embedded = EmbeddedCluster(self.options.config, clear=self.options.clear)
        except ConfigError as exc:  # one line naming the file and the key
            raise SessionError(str(exc)) from None
        self.url = embedded.url
        try:
            await embedded.start()
        except LaunchError as exc:
            raise SessionError(str(exc)) from None
        self.embedded = embedded
        self._tls = {**embedded.tls_options, **self._tls}
        token = self.options.token or embedded.config.security.admin_token
        return self._client(token, self.retry_deadline)

    @property
    def tls_options(self) -> dict[str, str]:
        """The ``ca``/``cert``/``key`` files the session's clients use (none for http://)."""
        return dict(self._tls)

    def _client(self, token: str | None, retry_deadline: float) -> GateClient:
        try:
            return GateClient(
                self.url,
                token=token,
                retry_deadline=retry_deadline,
                ca=self._tls.get("ca"),
                cert=self._tls.get("cert"),
                key=self._tls.get("key"),
            )
        except TlsError as exc:
            raise SessionError(str(exc)) from None

    def node_client(self, addr: str, *, timeout: float = 2.0) -> GateClient:
        """A client of one node's own read-only API at ``addr`` (host:port, as the cluster view
        gives it), with the session's token and TLS files; it never retries."""
        assert self.client is not None, "open() the session first"
        scheme = "https" if self.url.startswith("https://") else "http"
        try:
            return GateClient(
                f"{scheme}://{addr}",
                token=self.client.token,
                retry_deadline=0,
                request_timeout=timeout,
                ca=self._tls.get("ca"),
                cert=self._tls.get("cert"),
                key=self._tls.get("key"),
            )
        except TlsError as exc:
            raise SessionError(str(exc)) from None

    def new_client(self, *, retry_deadline: float | None = None) -> GateClient:
        """Another client of the same gateway (e.g. for a poller that must never wait)."""
        assert self.client is not None, "open() the session first"
        deadline = self.retry_deadline if retry_deadline is None else retry_deadline
        return self._client(self.client.token, deadline)

    async def close(self) -> None:
        """Close the client and stop the cluster if this session started it."""
        if self.client is not None:
            await self.client.close()
            self.client = None
        embedded, self.embedded = self.embedded, None
        if embedded is not None:
            await embedded.stop()

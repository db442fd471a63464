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
from engine.client import ConfigError, EmbeddedCluster, GateClient, GateError, LaunchError
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
            client = GateClient(
                self.url, token=self.options.token, retry_deadline=self.retry_deadline
            )
            if not await client.health():
                await client.close()
                raise SessionError(f"cannot reach a Gate gateway at {self.url}")
        else:
            client = await self._start_embedded()
        self.client = client
        try:
            self.access = await self._access(client)
            if self.access.role == "admin":  # only an admin may create it
                await ensure_store(client, self.store)
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
        token = self.options.token or embedded.config.security.admin_token
        return GateClient(self.url, token=token, retry_deadline=self.retry_deadline)

    def new_client(self, *, retry_deadline: float | None = None) -> GateClient:
        """Another client of the same gateway (e.g. for a poller that must never wait)."""
        assert self.client is not None, "open() the session first"
        deadline = self.retry_deadline if retry_deadline is None else retry_deadline
        return GateClient(self.url, token=self.client.token, retry_deadline=deadline)

    async def close(self) -> None:
        """Close the client and stop the cluster if this session started it."""
        if self.client is not None:
            await self.client.close()
            self.client = None
        embedded, self.embedded = self.embedded, None
        if embedded is not None:
            await embedded.stop()

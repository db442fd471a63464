"""``gate-console --serve``: the dashboard in every browser of a classroom, on one cluster.

textual-serve (Textualize's own server: xterm.js in the page, one app process per browser tab)
runs, for each tab, ``gate-console --connect URL``: a console attached to the gateway this
server started or was given.  The engine runs once, in this process's session, never per tab,
so the teacher's own ``gate-console --connect URL`` and every tab see the same cluster.  The
token the tabs use travels in their environment (``GATE_AUTH_TOKEN``), not on a command line
that ``ps`` shows; ``--read-only`` is passed to each tab.  So does the room (``GATE_ROOM``): a
folder this server makes, where each tab writes its answers to a lesson's questions and reads
how the room answered (``console.ops.room``).  Stopping the server (Ctrl+C) ends the tabs'
consoles first, then what the session started, and removes the room.

With ``--replay FILE`` there is no session at all: each tab runs ``gate-console --replay FILE``,
its own copy of the recording, which it pauses and seeks by itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import shutil
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

from console.ops.room import ROOM_ENV
from console.ops.session import EngineSession, SessionOptions
from console.tui.seats import (
    ServeOptions,
    page_certificate,
    replay_tab_argv,
    seat_words,
    tab_argv,
)
from engine.client import GateClient
from engine.tls import ReloadingCertificate, server_context

PAGE = Path(__file__).with_name("serve_page")  # our app_index.html: textual-serve's, made Gate's
# Shown in a new tab's terminal when the gateway does not answer (xterm.js: clear, home).
GATEWAY_GONE = (
    "\x1b[2J\x1b[H\x1b[1;31mGate: the cluster's gateway does not answer.\x1b[0m\r\n\r\n"
    "The cluster was stopped, or is restarting. Reload this page when your teacher\r\n"
    "says it is back.\r\n"
)


def tab_gone_in_one_line(record: logging.LogRecord) -> bool:
    """textual-serve logs a tab closed while it connects with a traceback: one line instead."""
    if record.exc_info and isinstance(record.exc_info[1], ConnectionError):
        record.msg, record.args, record.exc_info = "a tab closed while it connected", (), None
    return True


class ClassroomServer(Server):
    """textual-serve's server around one engine session: it opens before the first tab and
    closes after the last one."""

    def __init__(
        self, engine: SessionOptions, options: ServeOptions, *, replay: Path | None = None
    ) -> None:
        super().__init__(
            command="",  # known once the session knows the gateway's address
            host=options.host,
            port=options.port,
            title="Gate console",  # and the seat, once the session knows the token's role
            public_url=options.url,
            templates_path=PAGE,
        )
        self.options = options
        self.replay = replay  # --replay FILE: every tab plays it, no cluster is started
        self.session = EngineSession(engine)
        self.tabs: set[asyncio.Task[Any]] = set()
        self.opened = False
        self.certificate: ReloadingCertificate | None = None
        self.reloading: asyncio.Task[None] | None = None
        self.room: Path | None = None

    def serve(self, debug: bool = False) -> None:
        """textual-serve's ``serve``, with the page's certificate (aiohttp's ``ssl_context``),
        reloaded on SIGHUP or a change of its files. Raises TlsError for a certificate it
        cannot use, before anything starts."""
        context = None
        if self.options.tls is not None:
            context = server_context()
            self.certificate = page_certificate(self.options.tls, context)
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.options.host,
            port=self.options.port,
            ssl_context=context,
            handle_signals=False,
            loop=loop,
            print=lambda *args: None,
        )

    def initialize_logging(self) -> None:
        """One line per problem on stderr, not a request log of every tab."""
        logging.basicConfig(level=logging.WARNING, format="gate-console: %(message)s")
        logging.getLogger("textual-serve").addFilter(tab_gone_in_one_line)

    async def on_startup(self, app: web.Application) -> None:
        """Start or attach to the cluster once, before the port takes its first tab."""
        if self.certificate is not None:
            self.reloading = self.certificate.start_reloading()
        if self.replay is not None:
            self._serve_replay(app, self.replay)
            return
        client = await self.session.open()  # SessionError: one line, from main
        self.opened = True
        # textual-serve runs the command through a shell: exec leaves one process per tab.
        argv = tab_argv(
            self.session.url, read_only=self.options.read_only, tls=self.session.tls_options
        )
        self.command = f"exec {shlex.join(argv)}"
        # Every tab inherits this process's environment (textual-serve copies it).
        self.room = Path(tempfile.mkdtemp(prefix="gate-room-"))  # this user's alone (0700)
        os.environ[ROOM_ENV] = str(self.room)
        if client.token:
            os.environ["GATE_AUTH_TOKEN"] = client.token
        else:
            os.environ.pop("GATE_AUTH_TOKEN", None)
        # The server's session is not capped: the tabs' --read-only is theirs to apply.
        access = replace(self.session.access, read_only=self.options.read_only)
        seat = seat_words(access)
        self.title = f"Gate console — {seat.split(':')[0]}"
        aiohttp_jinja2.get_env(app).globals.update(seat=seat)
        started = "started" if self.session.started_engine else "attached to"
        print(
            f"gate-console: serving the dashboard on {self.options.url}"
            f" ({seat.split(':')[0]});"
            f" {started} the cluster at {self.session.url}\n"
            f"gate-console: your own console: gate-console --connect {self.session.url}\n"
            f"gate-console: the room's answers to lesson questions are in {self.room}"
            f" ({ROOM_ENV}={self.room} before your own console's command joins them)\n"
            "gate-console: Ctrl+C stops serving"
            + (" and the cluster" if self.session.started_engine else ""),
            file=sys.stderr,
            flush=True,
        )

    def _serve_replay(self, app: web.Application, recording: Path) -> None:
        self.command = f"exec {shlex.join(replay_tab_argv(recording))}"
        self.title = f"Gate console — replay of {recording.name}"
        seat = f"replay of {recording.name}: every tab plays its own copy, no cluster"
        aiohttp_jinja2.get_env(app).globals.update(seat=seat)
        print(
            f"gate-console: serving a replay of {recording} on {self.options.url}\n"
            "gate-console: Ctrl+C stops serving",
            file=sys.stderr,
            flush=True,
        )

    async def on_shutdown(self, app: web.Application) -> None:
        """End every tab's console (each quits and closes its page), then the session."""
        if self.reloading is not None:
            self.reloading.cancel()
        for task in list(self.tabs):
            task.cancel()
        await asyncio.gather(*self.tabs, return_exceptions=True)
        if self.room is not None:
            shutil.rmtree(self.room, ignore_errors=True)
        if self.opened and self.session.started_engine:
            print("gate-console: stopping the cluster it started…", file=sys.stderr, flush=True)
        await self.session.close()

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: its own console process, or the words for a gateway that is gone."""
        task = asyncio.current_task()
        assert task is not None, "aiohttp runs each request in a task"
        self.tabs.add(task)
        try:
            if self.replay is not None:  # no gateway to ask after
                return await super().handle_websocket(request)
            tls = self.session.tls_options
            async with GateClient(
                self.session.url,
                retry_deadline=0,
                ca=tls.get("ca"),
                cert=tls.get("cert"),
                key=tls.get("key"),
            ) as probe:
                answers = await probe.health()
            if answers:
                return await super().handle_websocket(request)
            return await self._gateway_gone(request)
        finally:
            self.tabs.discard(task)

    async def _gateway_gone(self, request: web.Request) -> web.WebSocketResponse:
        """Say so in the tab's terminal, and keep the page until it is closed or reloaded."""
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        await websocket.send_bytes(GATEWAY_GONE.encode())
        async for _message in websocket:
            pass
        return websocket

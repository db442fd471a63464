"""What the engine's command-line programs share: logging set-up and one-line failures."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import uvloop

_T = TypeVar("_T")


def configure_logging(level: int = logging.INFO) -> None:
    """Log lines to stderr with a timestamp and the logger name."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def fail(program: str, message: str, code: int = 1) -> NoReturn:
    """Print ``program: message`` on one line to stderr and exit."""
    print(f"{program}: {message}", file=sys.stderr)
    raise SystemExit(code)


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run`` on uvloop: the event loop's own work per request and per round (callbacks,
    timers, epoll) costs less in C than in asyncio's Python loop (bench/JOURNAL.md, "uvloop")."""
    return uvloop.run(main)


def stop_event_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (the way every server here is asked to stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Set ``stop`` when the parent process is gone (a child must not outlive its supervisor)."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            logging.getLogger("gate").warning("parent process %d is gone; stopping", parent_pid)
            stop.set()
            return
        await asyncio.sleep(0.5)


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ca``, ``--cert`` and ``--key``: how a program that takes a gateway URL speaks TLS."""
    parser.add_argument(
        "--ca", metavar="PEM", help="CA that signed the gateway's certificate (https://)"
    )
    parser.add_argument(
        "--cert", metavar="PEM", help="client certificate, for a gateway with clientAuth"
    )
    parser.add_argument("--key", metavar="PEM", help="the client certificate's private key")


def bind_error(what: str, host: str, port: int, exc: OSError) -> str:
    """A one-line reason for a failed bind (port taken, address not local)."""
    reason = "address already in use" if exc.errno == 98 else (exc.strerror or str(exc))
    return f"cannot listen for {what} on {host}:{port}: {reason}"

"""``gate-console [--config F] [--connect URL] [--clear] [--token T] [--read-only] [--yes]``.

Without ``--connect`` it starts the embedded cluster in the background (the bundled default
config, or ``--config``) through the operations layer's engine session, and stops it on exit
(Ctrl+Q).  Every failure to start is one line on stderr and a non-zero exit (2 for what the
user can fix before starting: no terminal, a bad URL or config, taken ports), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from console.ops.operations import Operations
from console.ops.session import SessionError, SessionOptions
from console.tui.app import GateConsole
from engine.cli_support import fail
from engine.client.preflight import PreflightError, check_start
from engine.config import ConfigError

PROGRAM = "gate-console"
HEALTH_INTERVAL = 0.5  # seconds between looks at the cluster: a failover shows within a second


DESCRIPTION = """\
The Gate dashboard: watch and drive a replicated event store.

Without --connect it starts a 3-node cluster in the background (gateway on
127.0.0.1:8899, nodes on 8090-8092 HTTP and 8890-8892 TCP, data under ./data)
and stops it on exit. It refuses to start when a Gate gateway or another
program already holds those ports.

Keys: 1-6 switch panels (cluster, feed, observers, producers, subscriptions,
streams), ? shows every key, Ctrl+P lists every operation, Ctrl+Q quits.
It needs a terminal; for scripts use gate-repl, which reads choices from stdin."""

EPILOG = f"""\
examples:
  {PROGRAM}                                   # start a local cluster and watch it
  {PROGRAM} --connect http://127.0.0.1:8899   # attach to a running gateway"""


def parse_args(argv: list[str] | None) -> tuple[SessionOptions, bool]:
    """The engine options of docs/API.md, checked: what cannot work here exits 2 with one line;
    and whether to ask before kill, stop and deleting parked events (not with ``--yes``)."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, help="cluster YAML to start (default: the bundled 3-node config)"
    )
    parser.add_argument(
        "--connect", metavar="URL", help="attach to a running gateway instead (default: start one)"
    )
    parser.add_argument("--clear", action="store_true", help="delete the nodes' data first")
    parser.add_argument("--token", help="API token (default: GATE_AUTH_TOKEN or the config's)")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="run as a reader whatever the token may do: watch, never change",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="do not ask before kill, stop or deleting parked events (scripted demos)",
    )
    args = parser.parse_args(argv)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(
            PROGRAM, "needs a terminal; for scripts use gate-repl (it reads choices from stdin)", 2
        )
    try:
        # Before anything starts: a bad URL or a taken port is the user's to fix, so it exits 2.
        connect = check_start(args.connect, args.config, attach=PROGRAM)
    except (PreflightError, ConfigError) as exc:
        fail(PROGRAM, str(exc), 2)
    token = args.token or os.environ.get("GATE_AUTH_TOKEN") or None
    options = SessionOptions(
        config=args.config,
        connect=connect,
        clear=args.clear,
        token=token,
        read_only=args.read_only,
    )
    return options, not args.yes


def say(line: str) -> None:
    """One line on stderr, outside the full-screen app."""
    print(f"{PROGRAM}: {line}", file=sys.stderr, flush=True)


async def run(options: SessionOptions, *, confirm: bool = True) -> int:
    """Open the session, run the dashboard, close what the session started."""
    if not options.connect:
        say("starting the embedded cluster…")
    try:
        ops = await Operations.open(options, health_interval=HEALTH_INTERVAL)
    except SessionError as exc:
        say(str(exc))
        return 1
    try:
        await GateConsole(ops, confirm=confirm).run_async()
    finally:
        if ops.started_engine:
            say("stopping the cluster it started…")
        await ops.close()
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``gate-console``."""
    try:
        # Ctrl+C while the config loads is as much an interruption as one in the dashboard.
        options, confirm = parse_args(argv)
        code = asyncio.run(run(options, confirm=confirm))
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()

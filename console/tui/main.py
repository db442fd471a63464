"""``gate-console [--config F] [--connect URL] [--clear] [--token T]``: the dashboard.

Without ``--connect`` it starts the embedded cluster in the background (the bundled default
config, or ``--config``) through the operations layer's engine session, and stops it on exit
(Ctrl+Q).  Every failure to start is one line on stderr and a non-zero exit, never a traceback.
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

PROGRAM = "gate-console"
HEALTH_INTERVAL = 0.5  # seconds between looks at the cluster: a failover shows within a second


def parse_args(argv: list[str] | None) -> SessionOptions:
    """The engine options of docs/API.md."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="The Gate dashboard: watch and drive a cluster."
    )
    parser.add_argument("--config", type=Path, help="cluster YAML to start (default: bundled)")
    parser.add_argument("--connect", metavar="URL", help="attach to a running gateway instead")
    parser.add_argument("--clear", action="store_true", help="delete the nodes' data first")
    parser.add_argument("--token", help="API token (default: GATE_AUTH_TOKEN or the config's)")
    args = parser.parse_args(argv)
    token = args.token or os.environ.get("GATE_AUTH_TOKEN") or None
    return SessionOptions(config=args.config, connect=args.connect, clear=args.clear, token=token)


def say(line: str) -> None:
    """One line on stderr, outside the full-screen app."""
    print(f"{PROGRAM}: {line}", file=sys.stderr, flush=True)


async def run(options: SessionOptions) -> int:
    """Open the session, run the dashboard, close what the session started."""
    if not options.connect:
        say("starting the embedded cluster…")
    try:
        ops = await Operations.open(options, health_interval=HEALTH_INTERVAL)
    except SessionError as exc:
        say(str(exc))
        return 1
    try:
        await GateConsole(ops).run_async()
    finally:
        if ops.started_engine:
            say("stopping the cluster it started…")
        await ops.close()
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``gate-console``."""
    options = parse_args(argv)
    try:
        code = asyncio.run(run(options))
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()

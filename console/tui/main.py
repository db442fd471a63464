"""``gate-console [--config F] [--connect URL] [--clear] [--token T] [--store S] ...``.

Without ``--connect`` it starts the embedded cluster in the background (the bundled default
config, or ``--config``) through the operations layer's engine session, and stops it on exit
(Ctrl+Q).  With ``--serve`` it serves the dashboard to browsers instead (``console/tui/serve.py``),
one console per tab on that one cluster.  Every failure to start is one line on stderr and a
non-zero exit (2 for what the user can fix before starting: no terminal, a bad URL or config,
taken ports), never a traceback.  ``--record FILE`` writes the session as it is shown
(console/ops/recording.py); ``--replay FILE`` plays such a file with no cluster at all
(console/tui/replay.py), in a terminal or, with ``--serve``, in every browser tab.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import NamedTuple

from console.ops.operations import Operations
from console.ops.recording import Recorder, Recording, RecordingError, read_recording
from console.ops.replay import ReplayOps
from console.ops.session import SessionError, SessionOptions
from console.tui.app import GateConsole
from console.tui.seats import ServeOptions, in_served_tab, page_certificate
from domain.greenhouse.catalogue import STORE_ID
from engine.cli_support import add_tls_arguments, fail
from engine.client import GateError
from engine.client.preflight import PreflightError, check_start
from engine.config import ConfigError
from engine.config_model import TlsIdentity
from engine.tls import TlsError

PROGRAM = "gate-console"
HEALTH_INTERVAL = 0.5  # seconds between looks at the cluster: a failover shows within a second


DESCRIPTION = """\
The Gate dashboard: watch and drive a replicated event store.

Without --connect it starts a 3-node cluster in the background (gateway on
127.0.0.1:8899, nodes on 8090-8092 HTTP and 8890-8892 TCP, data under ./data)
and stops it on exit. It refuses to start when a Gate gateway or another
program already holds those ports.

Keys: 1-7 switch panels (cluster, feed, observers, producers, subscriptions,
streams, messages), ? shows every key, Ctrl+P lists every operation, Ctrl+Q quits.
It needs a terminal; for scripts use gate-repl, which reads choices from stdin.

With --serve it needs none: it serves the dashboard to web browsers on
http://127.0.0.1:8000 (--host, --port), one console per browser tab, every
tab on the one cluster it started (or the one --connect names). A browser
on another machine needs --host 0.0.0.0, and --public-url when the address
people type is not the one it listens on; --serve-cert and --serve-key serve
the page over https:// (its WebSocket over wss://)."""

EPILOG = f"""\
examples:
  {PROGRAM}                                   # start a local cluster and watch it
  {PROGRAM} --connect http://127.0.0.1:8899   # attach to a running gateway
  {PROGRAM} --clear --lesson examples/lessons/05-failover.txt
                                               # a lesson, step by step, in the dashboard
  {PROGRAM} --serve --host 0.0.0.0 --public-url http://10.0.0.5:8000
                                               # a cluster and its dashboard for a class
  {PROGRAM} --clear --record class.gate.gz      # keep the session to play again
  {PROGRAM} --replay class.gate.gz              # play it: space, ., <, >, [, ], {{, }}"""


class Args(NamedTuple):
    """What ``gate-console`` was asked for, checked."""

    options: SessionOptions
    confirm: bool
    serve: ServeOptions | None
    lesson: Path | None
    record: Path | None = None
    replay: Path | None = None
    recording: Recording | None = None  # the --replay file, read


def parse_args(argv: list[str] | None) -> Args:
    """The engine options of docs/API.md, checked: what cannot work here exits 2 with one line;
    whether to ask before kill, stop and deleting parked events (not with ``--yes``); where
    to serve the dashboard (``--serve``), if it is served; the lesson to open (``--lesson``)."""
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
        "--store", metavar="S", default=STORE_ID, help=f"the store to work on (default {STORE_ID})"
    )
    add_tls_arguments(parser)
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
    parser.add_argument(
        "--lesson",
        metavar="FILE",
        type=Path,
        help="open a lesson (examples/lessons/*.txt) in the narration pane: Enter runs each step",
    )
    recorded = parser.add_argument_group("recording and replaying a session")
    recorded.add_argument(
        "--record",
        metavar="FILE",
        type=Path,
        help="write the session as it is shown to FILE (gzip JSON lines) to replay later",
    )
    recorded.add_argument(
        "--replay",
        metavar="FILE",
        type=Path,
        help="play a recorded session: no cluster is started or attached",
    )
    serving = parser.add_argument_group("serving the dashboard to browsers")
    serving.add_argument(
        "--serve",
        action="store_true",
        help="serve the dashboard to web browsers, one console per tab",
    )
    serving.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serving.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serving.add_argument(
        "--public-url", metavar="URL", help="the address browsers use, if not http://HOST:PORT"
    )
    serving.add_argument(
        "--serve-cert", metavar="PEM", help="the page's certificate: serve https:// and wss://"
    )
    serving.add_argument("--serve-key", metavar="PEM", help="that certificate's private key")
    args = parser.parse_args(argv)
    recording = check_recording_args(args)
    if args.serve and args.lesson is not None:
        fail(
            PROGRAM,
            "--lesson opens in one console: serve without it (tabs open lessons with Ctrl+P)",
            2,
        )
    serve = serve_options(args) if args.serve else None
    serving_only = (args.host, args.port, args.public_url, args.serve_cert, args.serve_key)
    if serve is not None and args.store != STORE_ID:
        fail(PROGRAM, "--store goes without --serve: each served tab picks its store (S)", 2)
    if serve is None and any(option is not None for option in serving_only):
        fail(
            PROGRAM, "--host, --port, --public-url, --serve-cert and --serve-key go with --serve", 2
        )
    if serve is None and not in_served_tab() and not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(
            PROGRAM, "needs a terminal; for scripts use gate-repl (it reads choices from stdin)", 2
        )
    if args.replay is not None:
        return Args(SessionOptions(), True, serve, None, replay=args.replay, recording=recording)
    try:
        # Before anything starts: a bad URL or a taken port is the user's to fix, so it exits 2.
        attach = f"{PROGRAM} --serve" if serve else PROGRAM  # names the command that attaches
        connect = check_start(args.connect, args.config, attach=attach)
    except (PreflightError, ConfigError) as exc:
        fail(PROGRAM, str(exc), 2)
    token = args.token or os.environ.get("GATE_AUTH_TOKEN") or None
    options = SessionOptions(
        config=args.config,
        connect=connect,
        clear=args.clear,
        token=token,
        ca=args.ca,
        cert=args.cert,
        key=args.key,
        # The server's own session only starts or checks the cluster; its tabs get --read-only.
        store=args.store,
        read_only=args.read_only and serve is None,
    )
    return Args(options, not args.yes, serve, args.lesson, record=args.record)


def check_recording_args(args: argparse.Namespace) -> Recording | None:
    """``--replay`` goes alone, and its file read (one it cannot play exits 2); ``--record``
    needs a file it can write, in one console."""
    if args.replay is not None:
        others = [
            option
            for option, given in (
                ("--config", args.config),
                ("--connect", args.connect),
                ("--clear", args.clear),
                ("--record", args.record),
                ("--lesson", args.lesson),
                ("--token", args.token),
                ("--read-only", args.read_only),
            )
            if given
        ]
        if others:
            fail(PROGRAM, f"--replay plays a file with no cluster: drop {', '.join(others)}", 2)
        try:
            return read_recording(args.replay)
        except RecordingError as exc:
            fail(PROGRAM, f"cannot replay: {exc}", 2)
    if args.record is not None:
        if args.serve:
            fail(PROGRAM, "--record records one console: run it without --serve", 2)
        target: Path = args.record
        if target.is_dir() or not target.parent.is_dir():
            fail(PROGRAM, f"--record {target}: not a file in an existing folder", 2)
    return None


def serve_options(args: argparse.Namespace) -> ServeOptions:
    """Where to serve, checked before anything starts: a bad one exits 2 with one line."""
    host = args.host or "127.0.0.1"
    port = 8000 if args.port is None else args.port
    if not 0 < port < 65536:
        fail(PROGRAM, f"--port {port}: the port must be between 1 and 65535", 2)
    public_url = args.public_url.rstrip("/") if args.public_url else None
    if public_url and not public_url.startswith(("http://", "https://")):
        fail(PROGRAM, f"--public-url {args.public_url}: it must start with http:// or https://", 2)
    tls = None
    if args.serve_cert or args.serve_key:
        if not (args.serve_cert and args.serve_key):
            fail(PROGRAM, "--serve-cert and --serve-key go together", 2)
        tls = TlsIdentity(Path(args.serve_cert), Path(args.serve_key))
        try:
            page_certificate(tls)  # a file it cannot use is one line now, not after the cluster
        except TlsError as exc:
            fail(PROGRAM, f"cannot serve https://: {exc}", 2)
    try:
        with socket.create_server((host, port)):
            pass  # free a moment ago: the server takes it once the cluster is up
    except OSError as exc:
        fail(PROGRAM, f"cannot serve on {host}:{port}: {exc.strerror or exc} (use --port)", 2)
    return ServeOptions(host, port, public_url, args.read_only, tls)


def say(line: str) -> None:
    """One line on stderr, outside the full-screen app."""
    print(f"{PROGRAM}: {line}", file=sys.stderr, flush=True)


async def run(
    options: SessionOptions,
    *,
    confirm: bool = True,
    lesson: Path | None = None,
    record: Path | None = None,
) -> int:
    """Open the session, run the dashboard, close what the session started."""
    if not options.connect:
        say("starting the embedded cluster…")
    try:
        ops = await Operations.open(options, health_interval=HEALTH_INTERVAL)
    except SessionError as exc:
        say(str(exc))
        return 1
    recorder = None
    try:
        if record is not None:
            recorder = Recorder(record, await _node_names(ops))
        await GateConsole(ops, confirm=confirm, lesson=lesson, recorder=recorder).run_async()
    except RecordingError as exc:
        say(str(exc))
        return 1
    finally:
        if recorder is not None:
            recorder.close()
            say(f"recorded {recorder.records} arrivals in {record}")
        if ops.started_engine:
            say("stopping the cluster it started…")
        await ops.close()
    return 0


async def _node_names(ops: Operations) -> list[str]:
    """The cluster's nodes for a recording's header: the config's, else the gateway's view."""
    embedded = ops.session.embedded
    if embedded is not None:
        return [node.node_id for node in embedded.config.nodes]
    try:
        return [node.node_id for node in (await ops.cluster.status()).nodes]
    except GateError:
        return []


async def replay(path: Path, recording: Recording) -> int:
    """Play a recording in the dashboard; nothing is started."""
    from console.tui.replay import ReplayConsole  # only a replay needs it

    await ReplayConsole(ReplayOps(path, recording)).run_async()
    return 0


def serve(options: SessionOptions, where: ServeOptions, recording: Path | None = None) -> int:
    """Serve the dashboard until Ctrl+C (or SIGTERM), then stop the tabs and the cluster."""
    from console.tui.serve import ClassroomServer  # textual-serve: only when serving

    try:
        ClassroomServer(options, where, replay=recording).serve()
    except (SessionError, TlsError) as exc:  # TlsError: the page's files changed since the check
        say(str(exc))
        return 1
    except OSError as exc:  # the port was taken between the check and the cluster's start
        say(f"cannot serve on {where.host}:{where.port}: {exc.strerror or exc}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``gate-console``."""
    try:
        # Ctrl+C while the config loads is as much an interruption as one in the dashboard.
        args = parse_args(argv)
        if args.serve is not None:
            code = serve(args.options, args.serve, args.replay)
        elif args.replay is not None and args.recording is not None:
            code = asyncio.run(replay(args.replay, args.recording))
        else:
            code = asyncio.run(
                run(args.options, confirm=args.confirm, lesson=args.lesson, record=args.record)
            )
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()

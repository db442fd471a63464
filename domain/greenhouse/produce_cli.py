"""``gate-produce``: run greenhouse producers against a gateway, with live progress and a summary.

The live table goes to stderr (and only to a terminal), the summary to stdout, so scripts can
capture the summary.  Ctrl+C (or SIGTERM) stops the producers cleanly and exits 0; an
unreachable gateway or a bad config is one line on stderr and exit status 1, a bad ``--connect``
URL one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence

from rich.console import Console, JustifyMethod
from rich.live import Live
from rich.table import Table

from domain.greenhouse.catalogue import STORE_ID
from domain.greenhouse.generators import MODES
from domain.greenhouse.producer import ProducerPool, ProducerRow
from domain.greenhouse.repository import SnapshotPolicy
from engine.cli_support import add_tls_arguments
from engine.client import GateClient, GateError, TlsError
from engine.client.preflight import PreflightError, gateway_url

PROGRAM = "gate-produce"
DEFAULT_URL = "http://127.0.0.1:8899"
_REFRESH = 0.25  # seconds between live table updates
_RATE_WINDOW = 2.0  # seconds of history behind the displayed rate


class CliError(Exception):
    """A reason to stop before producing, shown as one line."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``gate-produce``."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Run greenhouse producers against a running Gate gateway, with a live table\n"
        "on stderr and a summary on stdout. Ctrl+C stops them cleanly.",
        epilog=f"example:\n  {PROGRAM} --producers 3 --rate 20 --duration 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--connect",
        metavar="URL",
        help=f"gateway URL, http:// if no scheme (default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--config", metavar="F", help="take the gateway address from this config (default: none)"
    )
    parser.add_argument("--token", metavar="T", help="API token (default: $GATE_AUTH_TOKEN)")
    add_tls_arguments(parser)
    parser.add_argument("--store", default=STORE_ID, help=f"store id (default {STORE_ID})")
    parser.add_argument(
        "--producers", type=_positive_int, default=3, metavar="N", help="producers (default 3)"
    )
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=10.0,
        metavar="R",
        help="events/s per producer (default 10)",
    )
    parser.add_argument(
        "--batch", type=_positive_int, default=1, metavar="B", help="events per append (default 1)"
    )
    parser.add_argument(
        "--mode", choices=MODES, default="random", help="event generator (default random)"
    )
    parser.add_argument("--seed", type=int, help="seed for reproducible events (default: random)")
    parser.add_argument(
        "--duration", type=_positive_float, metavar="SEC", help="stop after SEC (default: Ctrl+C)"
    )
    parser.add_argument(
        "--snapshot-every",
        type=int,
        default=100,
        metavar="N",
        help="record a greenhouse snapshot every N events (0: never; default 100)",
    )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def resolve_target(args: argparse.Namespace) -> tuple[str, str | None]:
    """The gateway URL and token from ``--connect``/``--config``/``--token`` and the env."""
    token = args.token or os.environ.get("GATE_AUTH_TOKEN") or None
    if args.connect:
        return args.connect, token
    if args.config:
        from engine.config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except (ConfigError, OSError) as exc:
            raise CliError(str(exc).splitlines()[0]) from None
        http = config.gateway.http
        scheme = "https" if config.security.tls else "http"
        return f"{scheme}://{http.connect_host}:{http.port}", token or config.security.admin_token
    return DEFAULT_URL, token


class _RateMeter:
    """Events per second over the last few seconds, from the running total."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, now: float, total: int) -> float:
        self._samples.append((now, total))
        while len(self._samples) > 2 and now - self._samples[0][0] > _RATE_WINDOW:
            self._samples.popleft()
        first_t, first_total = self._samples[0]
        return (total - first_total) / (now - first_t) if now > first_t else 0.0


def _progress_table(rows: list[ProducerRow], rates: dict[str, float], elapsed: float) -> Table:
    total = sum(r.produced for r in rows)
    table = Table(title=f"{PROGRAM}: {total} events in {elapsed:.1f} s")
    for column in ("stream", "events", "rate/s", "errors", "version", "state"):
        justify: JustifyMethod = "left" if column in ("stream", "state") else "right"
        table.add_column(column, justify=justify, no_wrap=True)
    for row in rows:
        table.add_row(
            row.stream,
            str(row.produced),
            f"{rates.get(row.stream, 0.0):.1f}",
            str(row.errors),
            str(row.last_version),
            _state(row),
        )
    return table


def _state(row: ProducerRow) -> str:
    colour = {"running": "green", "stopped": "yellow", "failed": "red"}[row.state]
    return f"[{colour}]{row.state}[/]"


def _summary_table(rows: list[ProducerRow], elapsed: float, seed: int) -> Table:
    total = sum(r.produced for r in rows)
    per_second = total / elapsed if elapsed > 0 else 0.0
    table = Table(
        title=f"Produced {total} events in {elapsed:.1f} s ({per_second:.1f}/s), seed {seed}"
    )
    for column in ("stream", "mode", "produced", "last version", "errors", "state"):
        table.add_column(column, no_wrap=True)
    table.add_column("last error")  # the one that may wrap on a narrow terminal
    for row in rows:
        table.add_row(
            row.stream,
            row.mode,
            str(row.produced),
            str(row.last_version),
            str(row.errors),
            _state(row),
            row.last_error or "",
        )
    return table


async def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Produce until ``--duration`` passes or a stop signal; answer the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    url, token = resolve_target(args)
    try:
        client = GateClient(url, token=token, ca=args.ca, cert=args.cert, key=args.key)
    except TlsError as exc:
        raise CliError(str(exc)) from None
    async with client:
        try:
            await client.request_once("GET", "/health")
        except GateError as exc:
            # An untrusted certificate says which option is missing; the rest is unreachable.
            reason = f": {exc.message.split(': ', 1)[-1]}" if exc.code == "tls_failed" else ""
            raise CliError(f"cannot reach the gateway at {url}{reason}") from None
        pool = ProducerPool(
            client,
            args.store,
            mode=args.mode,
            rate=args.rate,
            batch_size=args.batch,
            seed=args.seed,
            snapshots=SnapshotPolicy(max(0, args.snapshot_every)),
        )
        try:
            await pool.start(args.producers)
        except GateError as exc:
            raise CliError(f"cannot start producers in store {args.store}: {exc.message}") from None
        started = time.monotonic()
        meters = {row.stream: _RateMeter() for row in pool.rows()}

        def render() -> Table:
            now = time.monotonic()
            rows = pool.rows()
            rates = {r.stream: meters[r.stream].update(now, r.produced) for r in rows}
            return _progress_table(rows, rates, now - started)

        with Live(render(), console=err, refresh_per_second=1 / _REFRESH, transient=True) as live:
            while not stop.is_set():
                elapsed = time.monotonic() - started
                if args.duration is not None and elapsed >= args.duration:
                    break
                if all(row.state == "failed" for row in pool.rows()):
                    break
                wait = _REFRESH
                if args.duration is not None:
                    wait = min(wait, args.duration - elapsed)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.0))
                live.update(render())
        await pool.stop_all()
        rows = pool.rows()
        out.print(_summary_table(rows, time.monotonic() - started, pool.seed))
    return 1 if any(row.state == "failed" for row in rows) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gate-produce``; answers the exit status."""
    args = build_parser().parse_args(argv)
    if args.connect:
        try:
            args.connect = gateway_url(args.connect)
        except PreflightError as exc:
            print(f"{PROGRAM}: {exc}", file=sys.stderr)
            return 2
    out = Console()
    err = Console(stderr=True)
    try:
        return asyncio.run(run(args, out, err))
    except CliError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

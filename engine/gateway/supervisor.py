"""The gateway's node supervisor: launches the node processes and injects faults into them.

Used when ``gateway.startsNodes`` is true.  Each node runs as ``python -m engine.node.main
--config F --node ID`` (with ``backend: jetstream``, a nats-server: the command, readiness path
and pre-exec hook of engine/jetstream/servers.py, under the same supervision) with its output
appended to ``<dataDir>/logs/<node-id>.log``; a node that fails to start is reported with its
id, its log file and the last line it wrote.

With ``gateway.restart: on-failure`` a node that exits without being told to (a crash, a SIGKILL
from outside) is started again after a :class:`Backoff` delay; one stopped or killed through the
supervisor stays down until it is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.cluster_secret import cluster_key
from engine.config_model import ClusterConfig, Endpoint, NodeConfig
from engine.gateway.members import Members
from engine.gateway.tcp_pool import NodeConnection
from engine.transport.http_pool import HttpPool

State = str  # "running" | "paused" | "stopped" | "exited"
_POLL = 0.05  # how often a starting node is asked whether it answers yet
_TAIL_BYTES = 4096

log = logging.getLogger("gate.supervisor")


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before restarting a node that exited on its own.

    ``first`` seconds after an exit, doubling with each exit that follows up to ``cap``; a run
    that lasted ``reset_after`` seconds or more starts the doubling again from ``first``.
    """

    first: float = 0.2
    cap: float = 10.0
    reset_after: float = 60.0

    def delay(self, previous: float | None, up_for: float) -> float:
        """The wait after an exit, given the wait before the run that ended (None: no run
        ended on its own yet) and how long that run lasted."""
        if previous is None or up_for >= self.reset_after:
            return self.first
        return min(self.cap, previous * 2)


def exit_words(code: int) -> str:
    """How a process ended, from its return code: ``signal 9`` or ``code 1``."""
    return f"signal {-code}" if code < 0 else f"code {code}"


class NodeStartError(Exception):
    """A node that exited during start-up or did not answer in time."""

    def __init__(
        self, node_id: str, log_file: Path, reason: str, last_line: str | None = None
    ) -> None:
        message = f"node {node_id} failed to start: {reason} (log: {log_file})"
        if last_line:
            message += f"; last log line: {last_line}"
        super().__init__(message)
        self.node_id = node_id
        self.log_file = log_file
        self.reason = reason
        self.last_line = last_line


@dataclass(slots=True)
class _Node:
    """One managed node: its process (if any) and what the supervisor last did to it."""

    config: NodeConfig
    log_file: Path
    proc: asyncio.subprocess.Process | None = None
    log_offset: int = 0  # where this run's output starts in the log file
    paused: bool = False
    stopping: bool = False  # the supervisor ended the process, so its exit is expected
    exited: bool = False  # the process ended on its own
    held: bool = True  # told to stay down (never started, stopped or killed): no restart
    launches: int = 0  # processes started so far, so a restart sees that another came first
    launched_at: float = 0.0  # the clock when the last process was started (or tried)
    backoff: float | None = None  # the last restart delay; None until a run ends on its own
    restarts: int = 0  # processes started again by the supervisor after an unexpected exit
    exit_code: int | None = None  # the return code of the last unexpected exit
    pending: asyncio.Task[None] | None = None  # a restart waiting out its delay
    watcher: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self.stopping


class NodeSupervisor:
    """Starts, stops and fault-injects the node processes of a config."""

    def __init__(
        self,
        config: ClusterConfig,
        config_path: Path,
        *,
        python: str = sys.executable,
        log_dir: Path | None = None,
        command: Callable[[str], list[str]] | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        members: Members | None = None,
        tls: ssl.SSLContext | None = None,
        insecure_ok: bool = False,
        ready_path: str = "/health",
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._members = members or Members(config)
        self.tls = tls  # the gateway's client context, to ask a starting node if it answers
        self._insecure_ok = insecure_ok  # the gateway's --insecure-ok, handed on to its nodes
        self._config_path = config_path
        self._python = python
        self._command = command or self._node_command
        self._ready_path = ready_path  # answers 200 once a launched node serves
        self._preexec = preexec  # run in the child before exec
        self.log_dir = log_dir or logs_dir(config)
        self._nodes = {
            n.node_id: _Node(n, self.log_dir / f"{n.node_id}.log") for n in self._members.nodes
        }
        self._secret = cluster_key(config)
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._sleep = sleep
        self._restarting: set[asyncio.Task[None]] = set()  # referenced until they end

    def _node_command(self, node_id: str) -> list[str]:
        return [
            self._python,
            "-m",
            "engine.node.main",
            "--config",
            str(self._config_path),
            "--node",
            node_id,
            # Managed nodes end with their gateway, even one that was SIGKILLed.
            "--parent-pid",
            str(os.getpid()),
            *self._joining_args(node_id),
            *(["--insecure-ok"] if self._insecure_ok else []),
        ]

    def _joining_args(self, node_id: str) -> list[str]:
        """For a node added at run time: its endpoints, and those of the other members the
        config does not list (gate-node ``--http``, ``--tcp``, ``--peer``)."""
        members = self._members
        if members.listed(node_id) or node_id not in self._nodes:
            return []
        node = self._nodes[node_id].config
        args = ["--http", f"{node.http.host}:{node.http.port}"]
        args += ["--tcp", f"{node.tcp.host}:{node.tcp.port}"]
        for other in members.nodes:
            if other.node_id != node_id and not members.listed(other.node_id):
                args += ["--peer", f"{other.node_id}={other.tcp.host}:{other.tcp.port}"]
        return args

    def manages(self, node_id: str) -> bool:
        return node_id in self._nodes

    async def add(self, node: NodeConfig) -> None:
        """Manage a node added at run time (or learned from the cluster) and start it."""
        if node.node_id not in self._nodes:
            self._nodes[node.node_id] = _Node(node, self.log_dir / f"{node.node_id}.log")
        await self.start(node.node_id)

    async def remove(self, node_id: str) -> None:
        """A node removed from the cluster: stop it and manage it no more."""
        if node_id in self._nodes:
            await self.stop(node_id)
            del self._nodes[node_id]

    def _node(self, node_id: str) -> _Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(node_id) from None

    def log_file(self, node_id: str) -> Path:
        """The log file of ``node_id``."""
        return self._node(node_id).log_file

    # -- state ---------------------------------------------------------------------------------

    def state(self, node_id: str) -> State:
        """``running``, ``paused``, ``stopped`` (never started or stopped here, or a member
        this gateway does not manage yet) or ``exited``."""
        node = self._nodes.get(node_id)
        if node is None:
            return "stopped"
        if node.alive:
            return "paused" if node.paused else "running"
        return "exited" if node.exited else "stopped"

    def managed_info(self, node_id: str) -> tuple[bool, int | None]:
        """``(True, pid)`` for a live node, ``(True, None)`` otherwise (the health callback);
        ``(False, None)`` for a member it does not manage (yet: one just learned)."""
        node = self._nodes.get(node_id)
        if node is None:
            return False, None
        return True, node.proc.pid if node.alive and node.proc else None

    def restart_info(self, node_id: str) -> tuple[int, int | None]:
        """How often ``node_id`` was restarted after an unexpected exit, and the return code of
        the last such exit (negative: the signal), None before any."""
        node = self._nodes.get(node_id)
        return (node.restarts, node.exit_code) if node is not None else (0, None)

    # -- whole cluster -------------------------------------------------------------------------

    async def start_all(self) -> None:
        """Launch every node, then wait until each answers.

        Raises :class:`NodeStartError` for a node that exits early or does not answer within
        ``gateway.startTimeout`` (the first to fail), after stopping all the nodes.
        """
        waits: list[asyncio.Task[None]] = []
        try:
            for node in self._nodes.values():
                node.held = False
                await self._launch(node)
            waits = [asyncio.create_task(self._wait_ready(n)) for n in self._nodes.values()]
            # One failure is enough to give up: no need to wait for the others to answer.
            await asyncio.wait(waits, return_when=asyncio.FIRST_EXCEPTION)
            failure = next((t.exception() for t in waits if t.done() and t.exception()), None)
            if failure is not None:
                raise failure
        except BaseException:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            await self.stop_all()
            raise

    async def stop_all(self) -> None:
        """Stop every node: SIGTERM, then SIGKILL after ``gateway.drainTimeout``."""
        await asyncio.gather(*(self.stop(node_id) for node_id in list(self._nodes)))

    # -- one node ------------------------------------------------------------------------------

    async def start(self, node_id: str) -> None:
        """Start ``node_id`` unless it runs already, and wait until it answers."""
        node = self._node(node_id)
        node.held = False
        self._cancel_restart(node)
        async with node.lock:
            if node.alive:
                return
            await self._launch(node)
            try:
                await self._wait_ready(node)
            except BaseException:
                await self._terminate(node)
                raise

    async def stop(self, node_id: str) -> None:
        """Stop ``node_id`` gracefully (a paused node is resumed first); fine if not running.

        It stays down until started: a restart it was waiting for is called off.
        """
        node = self._node(node_id)
        node.held = True
        node.exited = False  # told to be down now: "stopped", whatever ended its last run
        self._cancel_restart(node)
        async with node.lock:
            await self._terminate(node)

    async def restart(self, node_id: str) -> None:
        """Stop ``node_id`` (if running), then start it and wait until it answers."""
        await self.stop(node_id)
        await self.start(node_id)

    def kill(self, node_id: str) -> None:
        """SIGKILL ``node_id`` (the event loop's child watcher reaps it); it stays down."""
        node = self._node(node_id)
        node.held = True
        node.exited = False
        self._cancel_restart(node)
        if node.alive:
            node.stopping = True
            self._signal(node, signal.SIGKILL)

    def pause(self, node_id: str) -> None:
        """Freeze ``node_id`` with SIGSTOP (it keeps its sockets but answers nothing)."""
        node = self._node(node_id)
        if node.alive and not node.paused:
            self._signal(node, signal.SIGSTOP)
            node.paused = True

    def resume(self, node_id: str) -> None:
        """Let a paused ``node_id`` run again (SIGCONT)."""
        node = self._node(node_id)
        if node.alive and node.paused:
            self._signal(node, signal.SIGCONT)
            node.paused = False

    # -- process handling ----------------------------------------------------------------------

    async def _launch(self, node: _Node) -> None:
        if node.proc is not None and node.proc.returncode is None:
            await node.proc.wait()  # a killed process not reaped yet still holds its ports
        node_id = node.config.node_id
        node.launched_at = self._clock()
        taken = _taken_port(node.config)
        if taken is not None:
            raise NodeStartError(node_id, node.log_file, f"{taken} is already in use")
        node.log_file.parent.mkdir(parents=True, exist_ok=True)
        with node.log_file.open("ab") as out:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"--- {stamp} gate supervisor: starting {node_id}\n".encode())
            out.flush()
            node.log_offset = out.tell()
            # Unbuffered, so the last log line is there when a node dies at start-up.
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            node.proc = await asyncio.create_subprocess_exec(
                *self._command(node_id),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                preexec_fn=self._preexec,
            )
        node.paused = node.stopping = node.exited = False
        node.launches += 1
        node.watcher = asyncio.create_task(self._watch(node, node.proc))
        log.info("started node %s (pid %d, log %s)", node_id, node.proc.pid, node.log_file)

    async def _watch(self, node: _Node, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if node.proc is not proc or node.stopping:
            return
        node.exited = True
        node.paused = False
        node.exit_code = code
        node_id, how = node.config.node_id, exit_words(code)
        if node.held or self._config.gateway.restart == "never":
            log.warning("node %s exited unexpectedly (%s) (log: %s)", node_id, how, node.log_file)
            return
        self._schedule_restart(node, f"exited unexpectedly ({how}); restarting it")

    def _schedule_restart(self, node: _Node, what: str) -> None:
        node.backoff = self._backoff.delay(node.backoff, self._clock() - node.launched_at)
        log.warning(
            "node %s %s in %g s (log: %s)", node.config.node_id, what, node.backoff, node.log_file
        )
        task = asyncio.create_task(self._restart_later(node, node.backoff, node.launches))
        self._restarting.add(task)
        task.add_done_callback(self._restarting.discard)
        node.pending = task

    async def _restart_later(self, node: _Node, delay: float, launches: int) -> None:
        await self._sleep(delay)
        # Past the delay the restart can no longer be cancelled (it may be starting a process,
        # which must not be left half made); it checks under the lock whether it is still wanted.
        node.pending = None
        async with node.lock:
            if node.held or node.launches != launches or node.alive:
                return  # stopped, killed or started through the supervisor in the meantime
            try:
                await self._launch(node)
            except (NodeStartError, OSError) as exc:
                why = exc.reason if isinstance(exc, NodeStartError) else exc.strerror or str(exc)
                self._schedule_restart(node, f"could not be restarted ({why}); trying again")
                return
            node.restarts += 1
            log.info("restarted node %s (restart %d)", node.config.node_id, node.restarts)

    @staticmethod
    def _cancel_restart(node: _Node) -> None:
        if node.pending is not None:
            node.pending.cancel()
            node.pending = None

    async def _wait_ready(self, node: _Node) -> None:
        """Wait until ``node`` answers (HTTP /health, or TCP ping without HTTP)."""
        assert node.proc is not None
        proc = node.proc
        node_id = node.config.node_id
        timeout = self._config.gateway.start_timeout
        deadline = asyncio.get_running_loop().time() + timeout
        http = HttpPool(node.config.http.connect_host, node.config.http.port, tls=self.tls)
        conn = NodeConnection(node_id, node.config.tcp, secret=self._secret, tls=self.tls)
        try:
            while True:
                if proc.returncode is not None:
                    reason = f"exited with code {proc.returncode}"
                    raise NodeStartError(node_id, node.log_file, reason, self._last_line(node))
                if await self._answers(node.config, http, conn):
                    return
                if asyncio.get_running_loop().time() >= deadline:
                    what = (
                        f"GET {self._ready_path} on {node.config.http.addr}"
                        if node.config.http.enabled
                        else f"TCP ping on {node.config.tcp.addr}"
                    )
                    reason = f"did not answer {what} within {timeout:g} s"
                    raise NodeStartError(node_id, node.log_file, reason, self._last_line(node))
                # Either the process exits or the poll interval passes, whichever is first.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), _POLL)
        finally:
            http.close()
            conn.close()

    async def _answers(self, config: NodeConfig, http: HttpPool, conn: NodeConnection) -> bool:
        try:
            if config.http.enabled:
                async with asyncio.timeout(1.0):
                    return (await http.request("GET", self._ready_path)).status == 200
            answer = await conn.request({"op": "ping"}, 1.0)
        except (TimeoutError, OSError):
            return False
        return bool(answer.get("ok"))

    async def _terminate(self, node: _Node) -> None:
        proc = node.proc
        if proc is None or proc.returncode is not None:
            return
        node.stopping = True
        if node.paused:
            # A stopped process keeps SIGTERM pending until it is continued.
            self._signal(node, signal.SIGCONT)
            node.paused = False
        self._signal(node, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self._config.gateway.drain_timeout)
        except TimeoutError:
            log.warning(
                "node %s did not stop within %g s; killing it",
                node.config.node_id,
                self._config.gateway.drain_timeout,
            )
            self._signal(node, signal.SIGKILL)
            await proc.wait()

    @staticmethod
    def _signal(node: _Node, sig: signal.Signals) -> None:
        assert node.proc is not None
        # The process may have exited since we looked; there is nothing left to signal then.
        with contextlib.suppress(ProcessLookupError):
            node.proc.send_signal(sig)

    @staticmethod
    def _last_line(node: _Node) -> str | None:
        """The last non-empty line this run of the node wrote to its log."""
        try:
            with node.log_file.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                start = max(node.log_offset, size - _TAIL_BYTES)
                f.seek(start)
                tail = f.read().decode(errors="replace")
        except OSError:
            return None
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        return lines[-1] if lines else None


def _taken_port(node: NodeConfig) -> str | None:
    """The first of the node's enabled endpoints whose port is already taken, if any."""
    routes = () if node.cluster is None else (("route", node.cluster),)
    for name, endpoint in (("HTTP", node.http), ("TCP", node.tcp), *routes):
        if endpoint.enabled and not port_free(endpoint):
            return f"{name} port {endpoint.addr}"
    return None


def port_free(endpoint: Endpoint) -> bool:
    """Whether this machine can listen on ``endpoint`` now."""
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Same option as the node's servers, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((endpoint.host, endpoint.port))
        except OSError:
            return False
    return True


def logs_dir(config: ClusterConfig) -> Path:
    """Where the supervisor writes node logs by default: ``<dataDir>/logs``."""
    return config.storage.data_dir / "logs"


def clear_data(config: ClusterConfig) -> None:
    """Delete each node's data directory and log file (``--clear``), not the cluster secret.

    Refuses (ValueError) when ``storage.dataDir`` is the root or the home directory, where a
    typo would otherwise wipe far more than a cluster.
    """
    data_dir = config.storage.data_dir.resolve()
    if data_dir in (Path("/"), Path.home().resolve()):
        raise ValueError(f"refusing to clear data: storage.dataDir is {data_dir}")
    # The config's nodes, and any node added at run time (a directory with a Raft log).
    added = [p.parent.name for p in data_dir.glob("*/raft.db")]
    added = [n for n in added if n not in config.node_ids]
    for node_id in (*config.node_ids, *added):
        shutil.rmtree(config.node_data_dir(node_id), ignore_errors=True)
        (logs_dir(config) / f"{node_id}.log").unlink(missing_ok=True)

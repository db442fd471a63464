"""Start a whole cluster in the background: the embedded mode of the consoles, and the tests.

The cluster runs as a ``gate-gateway`` child process that launches and supervises the nodes,
so the front end keeps its event loop to itself and talks to the cluster over HTTP like any
remote user. The gateway watches its parent and shuts the cluster down if the parent dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.client.http_client import GateClient
from engine.config import default_config_path, load_config
from engine.config_model import ClusterConfig
from engine.transport.preflight import PreflightError, check_ports


class LaunchError(Exception):
    """The embedded cluster did not come up; the message says why in one line."""


class EmbeddedCluster:
    """A gateway and its nodes as background processes, from a config file."""

    def __init__(
        self,
        config_path: str | Path | None = None,
        *,
        clear: bool = False,
        log_file: str | Path | None = None,
        python: str = sys.executable,
    ) -> None:
        self.config_path = Path(config_path) if config_path else default_config_path()
        self.config: ClusterConfig = load_config(self.config_path)
        self.clear = clear
        self.log_file = (
            Path(log_file) if log_file else self.config.storage.data_dir / "logs" / "gateway.log"
        )
        self.python = python
        # A plain Popen, not an asyncio process: the cluster may be started and stopped from
        # different event loops (e.g. a test fixture), and Popen belongs to none.
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The gateway's base URL (https with ``security.tls``)."""
        scheme = "https" if self.config.security.tls else "http"
        return f"{scheme}://{self.config.gateway.http.addr}"

    @property
    def tls_options(self) -> dict[str, str]:
        """``ca`` (and with ``clientAuth`` the gateway's own ``cert``/``key``) for GateClient."""
        tls = self.config.security.tls
        if tls is None:
            return {}
        if not tls.client_auth:
            return {"ca": str(tls.ca)}
        return {"ca": str(tls.ca), "cert": str(tls.cert), "key": str(tls.key)}

    def client(self, **kwargs: object) -> GateClient:
        """A new client of this cluster's gateway."""
        options = {"token": self.config.security.admin_token, **self.tls_options, **kwargs}
        return GateClient(self.url, **options)  # type: ignore[arg-type]

    async def start(self, timeout: float = 30.0) -> None:
        """Launch the gateway and wait until it can serve writes."""
        try:
            # Before anything starts: never drive, or stop, a cluster someone else started.
            await asyncio.to_thread(check_ports, self.config)
        except PreflightError as exc:
            raise LaunchError(str(exc)) from None
        cmd = [self.python, "-m", "engine.gateway.main", "--config", str(self.config_path)]
        if self.clear:
            cmd.append("--clear")
        cmd += ["--parent-pid", str(os.getpid())]
        try:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self.process = self._spawn(cmd)
        except OSError as exc:  # e.g. a read-only working directory
            reason = exc.strerror or str(exc)
            raise LaunchError(
                f"cannot write the cluster's log {self.log_file}: {reason}"
                " (start from a writable directory, or set storage.dataDir)"
            ) from None
        deadline = time.monotonic() + timeout
        async with self.client(retry_deadline=0) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise LaunchError(f"the gateway exited with code {code}: {self._last_error()}")
                if await client.ready():
                    return
                if time.monotonic() > deadline:
                    await self.stop()
                    raise LaunchError(
                        f"the cluster was not ready within {timeout:g} s; see {self.log_file}"
                    )
                await asyncio.sleep(0.1)

    def _spawn(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        with open(self.log_file, "ab") as log:
            return subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def _last_error(self) -> str:
        with contextlib.suppress(OSError):
            lines = [
                ln for ln in self.log_file.read_text(errors="replace").splitlines() if ln.strip()
            ]
            for line in reversed(lines):
                if line.startswith("gate-"):
                    return line
            if lines:
                return f"{lines[-1]} (log: {self.log_file})"
        return f"see {self.log_file}"

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop the gateway, which stops its nodes; SIGKILL if it does not finish in time."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)

"""What a served tab is, decided before anything is served: where the page is, which seat a
tab gets, the command each tab runs.  Apart from ``serve.py`` so that a plain ``gate-console``
start does not import textual-serve and its web stack (a fifth of its start-up).
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from console.ops.session import Access
from engine.config_model import Role, TlsIdentity
from engine.tls import ReloadingCertificate, server_context

TAB_MODULE = "console.tui.main"
# What textual-serve sets for each tab's process: such a console runs without a terminal.
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where the page is served, whether every tab is a read-only seat, and the certificate
    that makes the page https:// (and its WebSocket wss://)."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    read_only: bool = False
    tls: TlsIdentity | None = None

    @property
    def url(self) -> str:
        """The address people type into their browser."""
        scheme = "https" if self.tls else "http"
        return self.public_url or f"{scheme}://{self.host}:{self.port}"


# What each role's seat may do, in the page's words (the roles of docs/API.md).
_SEATS: dict[Role, str] = {
    "reader": "watch everything and follow it, no writes and no faults",
    "writer": "appends and subscriptions, no node actions and no faults",
    "admin": "every operation, node actions included",
}


def seat_words(access: Access) -> str:
    """Which seat a tab is: the role its token has (every tab has the server's token)."""
    if access.read_only:
        return f"read-only seat: {_SEATS['reader']}"
    if access.auth == "none":  # no tokens at all: everyone may do everything
        return f"full seat: {_SEATS['admin']}"
    return f"{access.role} seat ({access.name}): {_SEATS[access.role]}"


def tab_argv(gateway: str, *, read_only: bool, tls: Mapping[str, str] | None = None) -> list[str]:
    """The command of one tab's console: attached to ``gateway``, never starting a cluster;
    ``tls``: the session's ``ca``/``cert``/``key`` files for an https:// gateway."""
    argv = [sys.executable, "-m", TAB_MODULE, "--connect", gateway]
    for name, path in (tls or {}).items():
        argv += [f"--{name}", path]
    if read_only:
        argv.append("--read-only")
    return argv


def replay_tab_argv(recording: Path) -> list[str]:
    """The command of one tab's console replaying ``recording``: its own copy, no cluster."""
    return [sys.executable, "-m", TAB_MODULE, "--replay", str(recording.resolve())]


def page_certificate(
    identity: TlsIdentity, context: ssl.SSLContext | None = None
) -> ReloadingCertificate:
    """The page's certificate loaded into ``context`` (a scratch one: only to check the files).
    Raises TlsError."""
    return ReloadingCertificate(identity, "the served page", [context or server_context()])


def in_served_tab() -> bool:
    """Whether this process is a tab's console (textual-serve's web driver, not a terminal)."""
    return os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER

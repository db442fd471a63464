"""What a console checks before it starts or attaches, each failing in one line.

``check_start`` is what both consoles run first; ``gateway_url`` turns a ``--connect`` argument
into a base URL, or says what is wrong with it.  The port and data directory checks themselves
live in ``engine.transport.preflight``, which the gateway runs too.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from engine.config import default_config_path, load_config
from engine.transport.preflight import (
    GatewayRunning,
    PreflightError,
    check_data_dir,
    check_ports,
)

__all__ = ["GatewayRunning", "PreflightError", "check_ports", "check_start", "gateway_url"]

EXAMPLE_URL = "http://127.0.0.1:8899"


def gateway_url(text: str) -> str:
    """The base URL of a gateway from a ``--connect`` argument (``http://`` when none is given)."""
    url = text.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise PreflightError(f"--connect {text}: the URL must start with http:// or https://")
    try:
        port = parts.port
    except ValueError:
        raise PreflightError(f"--connect {text}: the port must be between 1 and 65535") from None
    if not parts.hostname:
        raise PreflightError(f"--connect {text}: no host in the URL")
    if port == 0:
        raise PreflightError(f"--connect {text}: the port must be between 1 and 65535")
    if parts.path or parts.query or parts.fragment:
        raise PreflightError(
            f"--connect {text}: give the gateway's address only, like {EXAMPLE_URL}"
        )
    return url


def check_start(connect: str | None, config: Path | None, *, attach: str) -> str | None:
    """What a console checks before it starts: the ``--connect`` URL, or the cluster's ports.

    Answers the gateway URL to attach to, or None once the cluster of ``config`` (default: the
    bundled one) can start here (ports free, data directory writable); raises
    :class:`PreflightError` or ``ConfigError``.
    """
    if connect:
        return gateway_url(connect)
    cluster = load_config(config or default_config_path())
    check_ports(cluster, attach=attach)
    check_data_dir(cluster)
    return None

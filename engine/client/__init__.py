"""The public way into a Gate cluster: ``GateClient`` and the embedded launcher."""

from engine.client.http_client import GateClient
from engine.client.launcher import EmbeddedCluster, LaunchError
from engine.config import ConfigError
from engine.protocol.errors import GateError
from engine.tls import TlsError

__all__ = ["ConfigError", "EmbeddedCluster", "GateClient", "GateError", "LaunchError", "TlsError"]

"""``backend: jetstream``: the gateway's nats-servers, launched from the config and watched.

``servers.py`` writes each server's config and launches it through the gateway's supervisor;
``monitor.py`` builds the cluster view from the servers' monitoring endpoints (docs/ENGINE.md,
"JetStream").
"""

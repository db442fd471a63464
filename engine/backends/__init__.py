"""The gateway's port to an event engine and its implementations (docs/ARCHITECTURE.md, "Backends").

``port.Backend`` is what the gateway's store handlers need; ``engine.gateway.gate_backend`` serves
it with Gate's own cluster (the router and the consumer bridge), ``engine.backends.jetstream``
with a NATS JetStream cluster.
"""

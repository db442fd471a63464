"""HTTP plumbing shared by the processes: the client connection pool, the servers' request
helpers and the server itself.  Above ``engine.protocol`` only (docs/ARCHITECTURE.md)."""
